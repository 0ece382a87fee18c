// Command foqus-archiver is the Lambda bootstrap of the archiver (FOQUS-Archive-Queue): it builds its clients once,
// then serves every invocation with them.
package main

import "github.com/foqus-cloud/stack/functions/registry"

func main() { registry.Serve((*registry.Builder).Archiver) }
