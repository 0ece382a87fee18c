// Command foqus-update-processor is the Lambda bootstrap of the update processor (FOQUS-Update-Queue): it builds its
// clients once, then serves every invocation with them.
package main

import "github.com/foqus-cloud/stack/functions/registry"

func main() { registry.Serve((*registry.Builder).Updates) }
