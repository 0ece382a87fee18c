package sessions

// JobRequest is one element of an append body, named for the API's OpenAPI
// document (functions/openapi), which reflects the type the handler decodes.
type JobRequest = jobRequest
