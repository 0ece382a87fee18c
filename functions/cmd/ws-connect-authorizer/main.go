// Command ws-connect-authorizer is the Lambda bootstrap of the Cloud monitor's $connect authorizer.
package main

import "github.com/foqus-cloud/stack/functions/registry"

func main() { registry.Serve((*registry.Builder).MonitorAuthorizer) }
