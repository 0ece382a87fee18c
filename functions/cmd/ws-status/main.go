// Command ws-status is the Lambda bootstrap of the Cloud monitor's status route: it answers with the fleet and the caller's sessions.
package main

import (
	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/functions/monitor"
	"github.com/foqus-cloud/stack/functions/registry"
)

func main() {
	registry.Serve(func(b *registry.Builder) (monitor.RouteFunc, error) { return b.Monitor(api.FnMonitorStatus) })
}
