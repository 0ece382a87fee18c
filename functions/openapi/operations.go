package openapi

import (
	"github.com/foqus-cloud/stack/functions/consumers"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/functions/results"
	"github.com/foqus-cloud/stack/functions/sessions"
	"github.com/foqus-cloud/stack/functions/simulations"
)

// Schemas of bodies no Go type names.
var (
	quotedID = map[string]any{"type": "string", "format": "uuid", "description": "a JSON string: the id in double quotes"}
	pageNum  = map[string]any{"type": "integer", "minimum": 0, "description": "a bare integer"}
	anyBytes = map[string]any{"type": "string", "contentMediaType": "application/octet-stream", "description": "the file's bytes (base64 through API Gateway when binary)"}
	empty    = map[string]any{"type": "string", "maxLength": 0}
)

func jsonOf(desc string, v any) *Content {
	return &Content{Description: desc, MediaType: "application/json", Body: v}
}

var signedRedirect = &Content{
	Description: "a signed S3 URL, valid 120 s", MediaType: "application/json", Schema: empty,
	Headers: map[string]string{"Location": "the signed URL"},
}

// Operations documents each route of api.Routes, keyed "METHOD path". A nil
// Content is an error answered as ErrorBody; every route also answers the
// gateway's 401, 403 and 429.
var Operations = map[string]Operation{
	"GET /application": {ID: "listApplications", Summary: "The applications simulations can run",
		Answers: map[int]*Content{200: jsonOf("applications and the inputs each needs", []simulations.Application{})}},
	"GET /openapi.json": {ID: "getOpenAPI", Summary: "This document",
		Answers: map[int]*Content{200: {Description: "the OpenAPI 3.1 document", MediaType: "application/json", Schema: map[string]any{"type": "object"}}}},

	"GET /consumer": {ID: "listConsumers", Summary: "The workers with their last heartbeat; job ids only of your own jobs",
		Answers: map[int]*Content{200: jsonOf("workers", []consumers.Consumer{}), 500: nil}},

	"GET /session": {ID: "listSessions", Summary: "The ids of your sessions",
		Answers: map[int]*Content{200: jsonOf("session ids", []string{}), 500: nil}},
	"POST /session": {ID: "createSession", Summary: "A new session id (the session exists once jobs are appended)",
		Answers: map[int]*Content{200: {Description: "the new session id", MediaType: "application/text", Schema: quotedID}}},
	"GET /session/{id}": {ID: "getSession", Summary: "Every job of a session, in append order, without outputs",
		Answers: map[int]*Content{200: jsonOf("the jobs' metadata", []jobview.Metadata{}), 400: nil, 404: nil, 500: nil}},
	"POST /session/{id}": {ID: "appendJobs", Summary: "Append jobs (state create); the session comes into being with its first append",
		Request: &Content{Description: "the jobs, at most 10,000 and 6 MB", MediaType: "application/json", Body: []sessions.JobRequest{}},
		Answers: map[int]*Content{200: jsonOf("the new jobs' ids, in input order", []string{}), 400: nil, 403: nil, 409: nil, 413: nil, 500: nil}},
	"POST /session/{id}/start": {ID: "startSession", Summary: "Submit the session's pending jobs (resumes a stopped session)",
		Answers: map[int]*Content{200: jsonOf("the ids submitted by this call; [] when another start holds the session", []string{}), 400: nil, 404: nil, 409: nil, 500: nil}},
	"POST /session/{id}/kill": {ID: "killSession", Summary: "End every unfinished job as terminate",
		Answers: map[int]*Content{200: {Description: "the session id", MediaType: "application/json", Schema: quotedID}, 400: nil, 404: nil, 500: nil}},
	"POST /session/{id}/stop": {ID: "stopSession", Summary: "Pause the jobs no worker holds yet; start resumes them",
		Answers: map[int]*Content{200: {Description: "the session id", MediaType: "application/json", Schema: quotedID}, 400: nil, 404: nil, 409: nil, 500: nil}},
	"DELETE /session/{id}": {ID: "deleteSession", Summary: "Delete a finished (or killed) session: its jobs, outputs and result pages",
		Answers: map[int]*Content{200: {Description: "the session id", MediaType: "application/json", Schema: quotedID}, 400: nil, 404: nil, 409: nil, 500: nil}},
	"POST /session/{id}/result": {ID: "createGenerator", Summary: "A new result generator id",
		Answers: map[int]*Content{200: {Description: "the generator id", MediaType: "application/text", Schema: quotedID}}},
	"POST /session/{id}/result/{generator}": {ID: "createResultPage", Summary: "Put the jobs finished since the generator's last page on a new page",
		Answers: map[int]*Content{200: {Description: "the generator's latest page number (0: none yet, or the store was busy: see the headers)", MediaType: "application/json", Schema: pageNum,
			Headers: map[string]string{
				results.RetryHeader: "retry when the store was throttled or slow: the 0 then means poll again, not that nothing finished (FOQUS polls again on any 0)",
				"Retry-After":       "seconds to wait before polling again, with " + results.RetryHeader,
			}}, 400: nil, 404: nil, 500: nil}},
	"DELETE /session/{id}/result/{generator}": {ID: "deleteGenerator", Summary: "Accepted; changes nothing (pages are never consumed)",
		Answers: map[int]*Content{200: {Description: "empty", MediaType: "application/json", Schema: empty}, 400: nil, 404: nil, 500: nil}},
	"GET /session/{id}/result/{generator}/{page}": {ID: "getResultPage", Summary: "A result page: the finished jobs with their outputs",
		Query:   []Param{{Name: "rpp", Description: "records per page, as FOQUS sends it; ignored (a page holds what finished)"}},
		Answers: map[int]*Content{200: jsonOf("finished-job records", []jobview.Record{}), 400: nil, 404: nil, 500: nil}},

	"GET /simulation": {ID: "listSimulations", Summary: "Your simulations",
		Query:   []Param{{Name: "verbose", Description: "present: list each simulation's staged inputs"}, {Name: "SignedUrl", Description: "sent by FOQUS; ignored"}},
		Answers: map[int]*Content{200: jsonOf("simulations", []simulations.Simulation{}), 500: nil}},
	"GET /simulation/{name}": {ID: "getSimulation", Summary: "A simulation with its staged inputs",
		Answers: map[int]*Content{200: jsonOf("the simulation", simulations.Simulation{}), 400: nil, 404: nil, 500: nil}},
	"PUT /simulation/{name}": {ID: "putSimulation", Summary: "Create a simulation of an application (kept when it exists with the same one)",
		Request: &Content{Description: `{"Application": ..., "StagedInputs": [], "Name": ...}; Application names its runner`, MediaType: "application/json", Body: simulations.Simulation{}},
		Answers: map[int]*Content{200: jsonOf("the request body, echoed", simulations.Simulation{}), 400: nil, 409: nil, 413: nil, 500: nil}},
	"DELETE /simulation/{name}": {ID: "deleteSimulation", Summary: "Delete a simulation and its staged inputs (refused while a session of yours still runs it)",
		Answers: map[int]*Content{200: {Description: "the simulation name", MediaType: "application/json", Schema: map[string]any{"type": "string"}}, 400: nil, 404: nil, 409: nil, 500: nil}},
	"GET /simulation/{name}/input": {ID: "listInputs", Summary: "A simulation's staged inputs",
		Query:   []Param{{Name: "SignedUrl", Description: "sent by FOQUS; ignored"}},
		Answers: map[int]*Content{200: jsonOf("the staged inputs", []simulations.StagedInput{}), 400: nil, 404: nil, 500: nil}},
	"GET /simulation/{name}/input/{path+}": {ID: "getInput", Summary: "An input file: its bytes, or a signed URL",
		Query: []Param{{Name: "SignedUrl", Description: "true: answer 302 to a signed GET", Enum: []string{"true", "false", "True", "False"}}},
		Answers: map[int]*Content{
			200: {Description: "the file", MediaType: "application/octet-stream", Schema: anyBytes},
			302: {Description: "a signed GET URL (asked for, or the file is over 4 MB)", MediaType: "application/json", Schema: empty, Headers: map[string]string{"Location": "the signed URL"}},
			400: nil, 404: nil, 406: nil, 500: nil,
		}},
	"PUT /simulation/{name}/input/{path+}": {ID: "putInput", Summary: "Upload an input file; `configuration` is classified (SimSinter or FOQUS session)",
		Request: &Content{Description: "the file's bytes, with any or no Content-Type (FOQUS sends it empty)", MediaType: "*/*", Schema: anyBytes},
		Answers: map[int]*Content{200: {Description: "stored", MediaType: "application/octet-stream", Schema: empty}, 400: nil, 404: nil, 413: nil, 500: nil}},
	"POST /simulation/{name}/input/{path+}": {ID: "signInput", Summary: "A signed URL to upload (putObject, for files over the API's 6 MB) or download an input",
		Query:   []Param{{Name: "method", Description: "putObject (signed for Content-Type application/json) or getObject", Enum: []string{"putObject", "getObject"}}},
		Answers: map[int]*Content{302: signedRedirect, 400: nil, 404: nil, 405: nil, 500: nil}},
}
