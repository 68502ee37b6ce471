package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Init creates the repository unless one that opens with this password is already there.
func (r *Restic) Init(ctx context.Context, repo Repo) error {
	_, err := r.run(ctx, repo, invocation{op: "cat", args: []string{"config"}})
	if KindOf(err) != ErrRepositoryNotFound {
		return err
	}
	_, err = r.run(ctx, repo, invocation{op: "init"})
	if KindOf(err) == ErrRepositoryExists {
		// Another executor initialized it between the two calls: it must open with our key.
		_, err = r.run(ctx, repo, invocation{op: "cat", args: []string{"config"}})
	}
	return err
}

// BackupDirectory stores the tree under dir. Files restic could not read make it return both
// the summary (the snapshot exists) and an ErrIncomplete error naming them.
func (r *Restic) BackupDirectory(ctx context.Context, repo Repo, dir string, opts BackupOptions) (*BackupSummary, error) {
	args := r.backupArgs(opts)
	for _, e := range opts.Excludes {
		args = append(args, "--exclude", e)
	}
	// The absolute path is recorded; RestoreDirectory restores its content, not the path to it,
	// so data can be restored under any other mount point.
	args = append(args, "--", dir)
	sum, err := r.backup(ctx, repo, args, nil, opts)
	if sum != nil {
		sum.Paths = []string{dir}
	}
	return sum, err
}

// BackupStream stores what r yields as one file. If r fails, restic is stopped before it sees
// the end of input, so no snapshot of a truncated stream is ever saved.
func (r *Restic) BackupStream(ctx context.Context, repo Repo, src io.Reader, opts BackupOptions) (*BackupSummary, error) {
	name := opts.StdinFilename
	if name == "" {
		name = "stdin"
	}
	args := append(r.backupArgs(opts), "--stdin", "--stdin-filename", name)
	sum, err := r.backup(ctx, repo, args, src, opts)
	if sum != nil {
		sum.Paths = []string{"/" + name}
	}
	return sum, err
}

func (r *Restic) backupArgs(opts BackupOptions) []string {
	var args []string
	host := opts.Host
	if host == "" {
		host = r.Host
	}
	if host != "" {
		args = append(args, "--host", host)
	}
	for _, t := range opts.Tags {
		args = append(args, "--tag", t)
	}
	if r.ReadConcurrency > 0 {
		args = append(args, "--read-concurrency", strconv.Itoa(r.ReadConcurrency))
	}
	return args
}

// backupMessage is one line of `restic backup --json`.
type backupMessage struct {
	MessageType string `json:"message_type"`
	// status
	PercentDone      float64  `json:"percent_done"`
	TotalFiles       int64    `json:"total_files"`
	FilesDone        int64    `json:"files_done"`
	TotalBytes       int64    `json:"total_bytes"`
	BytesDone        int64    `json:"bytes_done"`
	SecondsElapsed   float64  `json:"seconds_elapsed"`
	SecondsRemaining int64    `json:"seconds_remaining"`
	CurrentFiles     []string `json:"current_files"`
	// summary
	resticSummary
	SnapshotID string `json:"snapshot_id"`
}

// resticSummary is the summary restic prints after a backup and stores in the snapshot.
type resticSummary struct {
	FilesNew            int64     `json:"files_new"`
	FilesChanged        int64     `json:"files_changed"`
	FilesUnmodified     int64     `json:"files_unmodified"`
	DirsNew             int64     `json:"dirs_new"`
	DirsChanged         int64     `json:"dirs_changed"`
	DirsUnmodified      int64     `json:"dirs_unmodified"`
	DataBlobs           int64     `json:"data_blobs"`
	TreeBlobs           int64     `json:"tree_blobs"`
	DataAdded           int64     `json:"data_added"`
	DataAddedPacked     int64     `json:"data_added_packed"`
	TotalFilesProcessed int64     `json:"total_files_processed"`
	TotalBytesProcessed int64     `json:"total_bytes_processed"`
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
}

func (s resticSummary) toSummary(id string, paths []string) *BackupSummary {
	return &BackupSummary{
		SnapshotID: id, Paths: paths,
		FilesNew: s.FilesNew, FilesChanged: s.FilesChanged, FilesUnmodified: s.FilesUnmodified,
		DirsNew: s.DirsNew, DirsChanged: s.DirsChanged, DirsUnmodified: s.DirsUnmodified,
		DataBlobs: s.DataBlobs, TreeBlobs: s.TreeBlobs, DataAdded: s.DataAdded, DataAddedPacked: s.DataAddedPacked,
		TotalFilesProcessed: s.TotalFilesProcessed, TotalBytesProcessed: s.TotalBytesProcessed,
		Start: s.BackupStart, End: s.BackupEnd,
	}
}

func (r *Restic) backup(ctx context.Context, repo Repo, args []string, stdin io.Reader, opts BackupOptions) (*BackupSummary, error) {
	var summary *BackupSummary
	res, err := r.run(ctx, repo, invocation{op: "backup", args: args, stdin: stdin, onLine: func(line []byte) {
		var m backupMessage
		if json.Unmarshal(line, &m) != nil {
			return
		}
		switch m.MessageType {
		case "status":
			if opts.Progress != nil {
				opts.Progress(Progress{
					PercentDone: m.PercentDone, TotalFiles: m.TotalFiles, FilesDone: m.FilesDone,
					TotalBytes: m.TotalBytes, BytesDone: m.BytesDone,
					Elapsed:          time.Duration(m.SecondsElapsed * float64(time.Second)),
					SecondsRemaining: m.SecondsRemaining, CurrentFiles: m.CurrentFiles,
				})
			}
		case "summary":
			summary = m.resticSummary.toSummary(m.SnapshotID, nil)
		}
	}})
	if summary != nil && res != nil {
		summary.Warnings = res.errors
	}
	if err != nil {
		if e, ok := err.(*Error); ok && e.Kind == ErrIncomplete && summary != nil {
			e.Message = fmt.Sprintf("snapshot %s lacks %d unreadable item(s): %s", short(summary.SnapshotID),
				len(summary.Warnings), strings.Join(firstN(summary.Warnings, 5), "; "))
		}
		return summary, err
	}
	if summary == nil {
		return nil, &Error{Op: "backup", Kind: ErrFailed, Message: "restic printed no summary"}
	}
	return summary, nil
}

// restoreMessage is one line of `restic restore --json`.
type restoreMessage struct {
	MessageType    string  `json:"message_type"`
	SecondsElapsed float64 `json:"seconds_elapsed"`
	PercentDone    float64 `json:"percent_done"`
	TotalFiles     int64   `json:"total_files"`
	FilesRestored  int64   `json:"files_restored"`
	TotalBytes     int64   `json:"total_bytes"`
	BytesRestored  int64   `json:"bytes_restored"`
}

// RestoreDirectory writes the snapshot's tree into target, where the snapshot's backed-up
// directory becomes target itself.
func (r *Restic) RestoreDirectory(ctx context.Context, repo Repo, snapshotID, target string, opts RestoreOptions) (*RestoreSummary, error) {
	source := snapshotID
	path := opts.Path
	if path == "" {
		snap, err := r.snapshot(ctx, repo, snapshotID)
		if err != nil {
			return nil, err
		}
		source = snap.ID
		if len(snap.Paths) == 1 {
			path = snap.Paths[0]
		}
	}
	// "<id>:<path>" restores the content of the backed-up directory, not the path leading to it.
	if path != "" {
		source += ":" + path
	}
	args := []string{source, "--target", target}
	for _, inc := range opts.Include {
		args = append(args, "--include", inc)
	}
	start := time.Now()
	sum := &RestoreSummary{}
	_, err := r.run(ctx, repo, invocation{op: "restore", args: args, onLine: func(line []byte) {
		var m restoreMessage
		if json.Unmarshal(line, &m) != nil {
			return
		}
		switch m.MessageType {
		case "status":
			if opts.Progress != nil {
				opts.Progress(Progress{PercentDone: m.PercentDone, TotalFiles: m.TotalFiles, FilesDone: m.FilesRestored,
					TotalBytes: m.TotalBytes, BytesDone: m.BytesRestored,
					Elapsed: time.Duration(m.SecondsElapsed * float64(time.Second))})
			}
		case "summary":
			sum.FilesRestored, sum.BytesRestored = m.FilesRestored, m.BytesRestored
		}
	}})
	sum.Duration = time.Since(start)
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// RestoreStream writes the stream snapshot's single file to w; for a directory snapshot it
// writes a tar archive of the tree.
func (r *Restic) RestoreStream(ctx context.Context, repo Repo, snapshotID string, w io.Writer, opts RestoreOptions) (*RestoreSummary, error) {
	id, path := snapshotID, opts.Path
	if path == "" {
		snap, err := r.snapshot(ctx, repo, snapshotID)
		if err != nil {
			return nil, err
		}
		if len(snap.Paths) != 1 {
			return nil, &Error{Op: "dump", Kind: ErrInvalidArgument, Message: fmt.Sprintf("snapshot %s has %d paths, a stream has one", snap.ShortID, len(snap.Paths))}
		}
		id, path = snap.ID, snap.Paths[0]
	}
	start := time.Now()
	cw := &countingWriter{w: w}
	if _, err := r.run(ctx, repo, invocation{op: "dump", args: []string{id, path}, stdout: cw}); err != nil {
		return nil, err
	}
	sum := &RestoreSummary{FilesRestored: 1, BytesRestored: cw.n, Duration: time.Since(start)}
	if opts.Progress != nil {
		opts.Progress(Progress{PercentDone: 1, TotalFiles: 1, FilesDone: 1, TotalBytes: cw.n, BytesDone: cw.n, Elapsed: sum.Duration})
	}
	return sum, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// snapshotJSON is one element of `restic snapshots --json`.
type snapshotJSON struct {
	ID       string         `json:"id"`
	ShortID  string         `json:"short_id"`
	Time     time.Time      `json:"time"`
	Hostname string         `json:"hostname"`
	Tags     []string       `json:"tags"`
	Paths    []string       `json:"paths"`
	Parent   string         `json:"parent"`
	Summary  *resticSummary `json:"summary"`
}

func (s snapshotJSON) toSnapshot() Snapshot {
	out := Snapshot{ID: s.ID, ShortID: s.ShortID, Time: s.Time, Host: s.Hostname, Hostname: s.Hostname,
		Tags: s.Tags, Paths: s.Paths, Parent: s.Parent}
	if s.Summary != nil {
		out.Summary = s.Summary.toSummary(s.ID, s.Paths)
	}
	return out
}

// Snapshots lists the repository's snapshots, oldest first.
func (r *Restic) Snapshots(ctx context.Context, repo Repo, filter SnapshotFilter) ([]Snapshot, error) {
	var args []string
	if filter.Host != "" {
		args = append(args, "--host", filter.Host)
	}
	for _, t := range filter.Tags {
		args = append(args, "--tag", t)
	}
	for _, p := range filter.Paths {
		args = append(args, "--path", p)
	}
	return r.snapshots(ctx, repo, args)
}

func (r *Restic) snapshots(ctx context.Context, repo Repo, args []string) ([]Snapshot, error) {
	res, err := r.run(ctx, repo, invocation{op: "snapshots", args: args})
	if err != nil {
		return nil, err
	}
	var list []snapshotJSON
	if err := json.Unmarshal(res.stdout, &list); err != nil {
		return nil, &Error{Op: "snapshots", Kind: ErrFailed, Message: "unreadable output: " + err.Error()}
	}
	out := make([]Snapshot, len(list))
	for i, s := range list {
		out[i] = s.toSnapshot()
	}
	return out, nil
}

// snapshot resolves an ID, a prefix of one, or "latest".
func (r *Restic) snapshot(ctx context.Context, repo Repo, id string) (*Snapshot, error) {
	if id == "" {
		return nil, &Error{Op: "snapshots", Kind: ErrInvalidArgument, Message: "no snapshot ID given"}
	}
	list, err := r.snapshots(ctx, repo, []string{id})
	if err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, &Error{Op: "snapshots", Kind: ErrSnapshotNotFound, Message: fmt.Sprintf("no snapshot %q in the repository", id)}
	}
	return &list[0], nil
}

// forgetGroup is one element of `restic forget --json`.
type forgetGroup struct {
	Keep   []snapshotJSON `json:"keep"`
	Remove []snapshotJSON `json:"remove"`
}

// Forget applies the retention policy and, with prune, deletes the data no kept snapshot uses.
func (r *Restic) Forget(ctx context.Context, repo Repo, policy RetentionPolicy, prune bool) (*ForgetResult, error) {
	if policy.IsZero() {
		return nil, &Error{Op: "forget", Kind: ErrInvalidArgument, Message: "the retention policy keeps nothing; refusing to forget every snapshot"}
	}
	var args []string
	for _, k := range []struct {
		flag string
		n    int
	}{{"--keep-last", policy.Last}, {"--keep-hourly", policy.Hourly}, {"--keep-daily", policy.Daily},
		{"--keep-weekly", policy.Weekly}, {"--keep-monthly", policy.Monthly}, {"--keep-yearly", policy.Yearly}} {
		if k.n > 0 {
			args = append(args, k.flag, strconv.Itoa(k.n))
		}
	}
	if policy.Within > 0 {
		// restic's durations count whole hours at best; round up so nothing younger is lost.
		args = append(args, "--keep-within", fmt.Sprintf("%dh", int64(math.Ceil(policy.Within.Hours()))))
	}
	if policy.GroupBy != "" {
		args = append(args, "--group-by", policy.GroupBy)
	}
	res, err := r.run(ctx, repo, invocation{op: "forget", args: args})
	if err != nil {
		return nil, err
	}
	var groups []forgetGroup
	if err := json.Unmarshal(res.stdout, &groups); err != nil {
		return nil, &Error{Op: "forget", Kind: ErrFailed, Message: "unreadable output: " + err.Error()}
	}
	out := &ForgetResult{}
	for _, g := range groups {
		for _, s := range g.Keep {
			out.Kept = append(out.Kept, s.ID)
		}
		for _, s := range g.Remove {
			out.Removed = append(out.Removed, s.ID)
		}
	}
	if prune && len(out.Removed) > 0 {
		// prune prints no JSON; only its failure matters.
		if _, err := r.run(ctx, repo, invocation{op: "prune", stdout: io.Discard}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// ForgetIDs removes exactly the given snapshots, then prunes.
func (r *Restic) ForgetIDs(ctx context.Context, repo Repo, ids []string, prune bool) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		if id == "" || strings.HasPrefix(id, "-") {
			return &Error{Op: "forget", Kind: ErrInvalidArgument, Message: fmt.Sprintf("not a snapshot ID: %q", id)}
		}
	}
	if _, err := r.run(ctx, repo, invocation{op: "forget", args: ids, stdout: io.Discard}); err != nil {
		return err
	}
	if prune {
		_, err := r.run(ctx, repo, invocation{op: "prune", stdout: io.Discard})
		return err
	}
	return nil
}

// checkMessage is one line of `restic check --json`.
type checkMessage struct {
	MessageType string `json:"message_type"`
	NumErrors   int    `json:"num_errors"`
}

// Check verifies the repository; damage is reported as ErrIntegrity with restic's findings.
func (r *Restic) Check(ctx context.Context, repo Repo, opts CheckOptions) error {
	var args []string
	if opts.NoLock {
		args = append(args, "--no-lock")
	}
	switch {
	case opts.ReadData:
		args = append(args, "--read-data")
	case opts.ReadDataSubset != "":
		args = append(args, "--read-data-subset", opts.ReadDataSubset)
	}
	numErrors := 0
	res, err := r.run(ctx, repo, invocation{op: "check", args: args, onLine: func(line []byte) {
		var m checkMessage
		if json.Unmarshal(line, &m) == nil && m.MessageType == "summary" {
			numErrors = m.NumErrors
		}
	}})
	if err != nil {
		if e, ok := err.(*Error); ok && e.Kind == ErrFailed {
			e.Kind = ErrIntegrity
			if res != nil && len(res.errors) > 0 {
				e.Message = strings.Join(firstN(res.errors, 5), "; ")
			}
		}
		return err
	}
	if numErrors > 0 {
		return &Error{Op: "check", Kind: ErrIntegrity, Message: fmt.Sprintf("%d error(s): %s", numErrors, strings.Join(firstN(res.errors, 5), "; "))}
	}
	return nil
}

// Unlock removes locks whose owners are gone (restic's own staleness rules).
func (r *Restic) Unlock(ctx context.Context, repo Repo) error {
	_, err := r.run(ctx, repo, invocation{op: "unlock"})
	return err
}

// statsJSON is `restic stats --mode raw-data --json`.
type statsJSON struct {
	TotalSize             int64   `json:"total_size"`
	TotalUncompressedSize int64   `json:"total_uncompressed_size"`
	CompressionRatio      float64 `json:"compression_ratio"`
	TotalBlobCount        int64   `json:"total_blob_count"`
	SnapshotsCount        int64   `json:"snapshots_count"`
}

// Stats reports the stored size of all blobs.
func (r *Restic) Stats(ctx context.Context, repo Repo) (*Stats, error) {
	res, err := r.run(ctx, repo, invocation{op: "stats", args: []string{"--mode", "raw-data"}})
	if err != nil {
		return nil, err
	}
	var s statsJSON
	if err := json.Unmarshal(res.stdout, &s); err != nil {
		return nil, &Error{Op: "stats", Kind: ErrFailed, Message: "unreadable output: " + err.Error()}
	}
	return &Stats{TotalSize: s.TotalSize, TotalUncompressedSize: s.TotalUncompressedSize, SnapshotsCount: s.SnapshotsCount,
		TotalBlobCount: s.TotalBlobCount, CompressionRatio: s.CompressionRatio}, nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
