// Package api is the HTTP contract of the FOQUS cloud: every route, the Lambda
// function that serves it and the static bodies the original answered with.
// API Gateway (infra) and the local gateway (local) are both built from Routes.
package api

// Function names without the stage suffix (resource.Name appends it).
const (
	FnAuthorizer      = "http-basic-authorizer"
	FnSessionCreate   = "post-session-create"
	FnSessionList     = "get-session-list"
	FnSessionGet      = "get-session"
	FnSessionAppend   = "post-session-append"
	FnSessionStart    = "post-session-start"
	FnSessionKill     = "post-session-kill"
	FnSessionStop     = "post-session-stop"
	FnSessionResult   = "post-session-result"
	FnResultPage      = "get-session-result-page"
	FnApplications    = "get-application"
	FnSimulationRoot  = "get-simulation-root"
	FnSimulationGet   = "get-simulation"
	FnSimulationPut   = "put-simulation-name"
	FnInputPut        = "put-simulation-input"
	FnInputGet        = "get-simulation-input-file"
	FnInputSignedURL  = "post-simulation-signed-url"
	FnOpenAPI         = "get-openapi"
	FnUpdateProcessor = "foqus-update-processor"
	FnSimulationDel   = "delete-simulation"
	FnConsumerList    = "get-consumer-list"
	FnSessionDelete   = "delete-session"
	FnArchiver        = "foqus-archiver" // the archive queue: completion e-mail, archive when due
	FnThaw            = "foqus-thaw"     // the thaw queue: S3 ObjectRestore:Completed events
)

// The Cloud monitor's WebSocket API: its $connect authorizer and one function
// per route (MonitorRoutes).
const (
	FnMonitorAuthorizer = "ws-connect-authorizer"
	FnMonitorConnect    = "ws-connect"
	FnMonitorDisconnect = "ws-disconnect"
	FnMonitorStatus     = "ws-status"
	FnMonitorDefault    = "ws-default"
)

// MonitorRoute maps a WebSocket route key to the function serving it.
type MonitorRoute struct {
	Key      string
	Function string
}

// MonitorRoutes is every route of the WebSocket API; API Gateway selects on
// the message's "action" ($request.body.action), FOQUS sends {"action":"status"}.
var MonitorRoutes = []MonitorRoute{
	{"$connect", FnMonitorConnect},
	{"$disconnect", FnMonitorDisconnect},
	{"status", FnMonitorStatus},
	{"$default", FnMonitorDefault},
}

// MonitorRouteSelection is the WebSocket API's route selection expression.
const MonitorRouteSelection = "$request.body.action"

// Route maps one method and API Gateway resource path to the function serving it.
type Route struct {
	Method   string
	Path     string // API Gateway resource path, {name} and {name+} as path parameters
	Function string
}

// Routes is every route of the API (spec §3.2; R14 implemented, R19 dropped).
// All of them go through the REQUEST authorizer.
var Routes = []Route{
	{"GET", "/application", FnApplications},
	{"GET", "/session", FnSessionList},
	{"POST", "/session", FnSessionCreate},
	{"GET", "/session/{id}", FnSessionGet},
	{"POST", "/session/{id}", FnSessionAppend},
	{"DELETE", "/session/{id}", FnSessionDelete},
	{"POST", "/session/{id}/start", FnSessionStart},
	{"POST", "/session/{id}/kill", FnSessionKill},
	{"POST", "/session/{id}/stop", FnSessionStop},
	{"POST", "/session/{id}/result", FnSessionCreate},
	{"POST", "/session/{id}/result/{generator}", FnSessionResult},
	{"DELETE", "/session/{id}/result/{generator}", FnSessionResult},
	{"GET", "/session/{id}/result/{generator}/{page}", FnResultPage},
	{"GET", "/consumer", FnConsumerList},
	{"GET", "/simulation", FnSimulationRoot},
	{"GET", "/simulation/{name}", FnSimulationGet},
	{"PUT", "/simulation/{name}", FnSimulationPut},
	{"DELETE", "/simulation/{name}", FnSimulationDel},
	{"GET", "/simulation/{name}/input", FnSimulationGet}, // FOQUS sends /simulation//{name}/input
	{"GET", "/simulation/{name}/input/{path+}", FnInputGet},
	{"PUT", "/simulation/{name}/input/{path+}", FnInputPut},
	{"POST", "/simulation/{name}/input/{path+}", FnInputSignedURL},
	{"GET", "/openapi.json", FnOpenAPI}, // this API's OpenAPI document (functions/openapi)
}

// Functions lists every Lambda function: the route handlers, the authorizer,
// the update processor, the result lifecycle's archiver and thaw and the
// monitor's functions, each once.
func Functions() []string {
	fns := []string{FnAuthorizer}
	seen := map[string]bool{FnAuthorizer: true}
	for _, r := range Routes {
		if !seen[r.Function] {
			seen[r.Function] = true
			fns = append(fns, r.Function)
		}
	}
	fns = append(fns, FnUpdateProcessor, FnArchiver, FnThaw, FnMonitorAuthorizer)
	for _, r := range MonitorRoutes {
		fns = append(fns, r.Function)
	}
	return fns
}
