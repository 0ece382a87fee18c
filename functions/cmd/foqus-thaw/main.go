// Command foqus-thaw is the Lambda bootstrap of thaw (FOQUS-Thaw-Queue, S3 ObjectRestore:Completed): it builds its
// clients once, then serves every invocation with them.
package main

import "github.com/foqus-cloud/stack/functions/registry"

func main() { registry.Serve((*registry.Builder).Thaw) }
