// Command ws-connect is the Lambda bootstrap of the Cloud monitor's $connect: it records the connection under its user.
package main

import (
	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/functions/monitor"
	"github.com/foqus-cloud/stack/functions/registry"
)

func main() {
	registry.Serve(func(b *registry.Builder) (monitor.RouteFunc, error) { return b.Monitor(api.FnMonitorConnect) })
}
