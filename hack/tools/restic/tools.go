//go:build tools

// Package tools pins restic, which this project builds from the Go module proxy (see hack/tools.sh).
package tools

import _ "github.com/restic/restic/cmd/restic"
