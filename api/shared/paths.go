package shared

import (
	"path"
	"strings"
)

// CleanDirectory turns a repository directory into the form Coffer stores and compares: relative
// to the backend root, without leading or trailing slashes. KubeStash manifests write
// "/demo/app"; Coffer accepts that and means "demo/app". ok is false for directories that are
// not a clean path below the root: empty, ".", containing "." or ".." segments or "//".
func CleanDirectory(dir string) (clean string, ok bool) {
	trimmed := strings.Trim(dir, "/")
	if trimmed == "" {
		return "", false
	}
	for _, seg := range strings.Split(trimmed, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	return path.Clean(trimmed), true
}
