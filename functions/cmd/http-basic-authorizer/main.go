// Command http-basic-authorizer is the Lambda bootstrap of the API's REQUEST authorizer: it builds its
// clients once, then serves every invocation with them.
package main

import "github.com/foqus-cloud/stack/functions/registry"

func main() { registry.Serve((*registry.Builder).Authorizer) }
