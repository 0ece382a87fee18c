// Command delete-session is the Lambda bootstrap serving its API routes: it builds its
// clients once, then serves every invocation with them.
package main

import "github.com/foqus-cloud/stack/functions/registry"

func main() { registry.Serve((*registry.Builder).SessionDelete) }
