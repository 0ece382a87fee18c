// Command get-openapi is the Lambda bootstrap serving GET /openapi.json: the
// API's OpenAPI document, embedded at build time.
package main

import "github.com/foqus-cloud/stack/functions/registry"

func main() { registry.Serve((*registry.Builder).OpenAPI) }
