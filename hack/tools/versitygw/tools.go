//go:build tools

// Package tools pins versitygw, which this project builds from the Go module proxy (see hack/tools.sh).
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
