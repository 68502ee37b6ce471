package engine

import "os"

// SetOnStart lets tests reach the restic process of the next commands (to kill it).
func SetOnStart(r *Restic, f func(*os.Process)) { r.onStart = f }
