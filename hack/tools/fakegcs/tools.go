//go:build tools

// Package tools pins fakegcs, which this project builds from the Go module proxy (see hack/tools.sh).
package tools

import _ "github.com/fsouza/fake-gcs-server"
