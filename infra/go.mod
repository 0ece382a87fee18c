module github.com/foqus-cloud/stack/infra

go 1.26.0

require github.com/foqus-cloud/stack v0.0.0

replace github.com/foqus-cloud/stack => ../
