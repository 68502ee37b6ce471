package redis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// client is one connection speaking RESP2, the protocol every Redis since 2.0 answers: enough of
// it to pipeline commands and to read any reply, with bulk strings streamed where a dump needs
// them to be.
type client struct {
	ctx  context.Context
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	// stop undoes the context's hold on the connection.
	stop func() bool
	db   int
}

// reply is one RESP2 reply.
type reply struct {
	// kind is the reply's type byte: '+' simple string, '-' error, ':' integer, '$' bulk string,
	// '*' array.
	kind  byte
	str   []byte
	num   int64
	null  bool // a nil bulk string or array
	elems []reply
}

// ReplyError is an error reply, with the command that got it. The command's arguments are left
// out: they can be credentials (AUTH, CONFIG SET requirepass) or whole values.
type ReplyError struct {
	Command string
	Message string
}

func (e *ReplyError) Error() string { return "redis: " + e.Command + ": " + e.Message }

// maxLine bounds a reply's header line; simple strings and errors are short, and a longer line
// means the other end is not speaking RESP.
const maxLine = 64 << 10

// dial connects, authenticates and selects db 0. Cancelling ctx unblocks whatever the client is
// doing, and its error becomes ctx's.
func dial(ctx context.Context, addr, username, password string, timeout time.Duration) (*client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("redis: connecting to %s: %w", addr, err)
	}
	c := &client{ctx: ctx, conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriterSize(conn, 64<<10)}
	// A deadline in the past fails every read and write under way, which a close would too, but
	// without racing the deferred close.
	c.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	switch {
	case username != "":
		_, err = c.do("AUTH", username, password)
	case password != "":
		_, err = c.do("AUTH", password)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *client) close() {
	c.stop()
	_ = c.conn.Close()
}

// failed turns an I/O error into the context's error when the context is why it failed.
func (c *client) failed(err error) error {
	if err == nil {
		return nil
	}
	if cerr := c.ctx.Err(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("redis: %w", err)
}

// send writes a command to the connection's buffer; flush sends what is buffered. bufio.Writer
// remembers its first error and returns it from Flush, so the writes in between need no checks.
func (c *client) send(args ...string) {
	c.arrayHeader(len(args))
	for _, a := range args {
		c.bulk(a)
	}
}

func (c *client) arrayHeader(n int) {
	c.w.WriteByte('*')
	c.w.WriteString(strconv.Itoa(n))
	c.w.WriteString("\r\n")
}

func (c *client) bulkHeader(n int64) {
	c.w.WriteByte('$')
	c.w.WriteString(strconv.FormatInt(n, 10))
	c.w.WriteString("\r\n")
}

func (c *client) bulk(s string) {
	c.bulkHeader(int64(len(s)))
	c.w.WriteString(s)
	c.w.WriteString("\r\n")
}

// bulkFrom writes a bulk string of n bytes read from r, without holding it in memory.
func (c *client) bulkFrom(r io.Reader, n int64) error {
	c.bulkHeader(n)
	if _, err := io.CopyN(c.w, r, n); err != nil {
		return err
	}
	c.w.WriteString("\r\n")
	return nil
}

func (c *client) flush() error { return c.failed(c.w.Flush()) }

// do sends one command and reads its reply; an error reply is a *ReplyError.
func (c *client) do(args ...string) (reply, error) {
	c.send(args...)
	if err := c.flush(); err != nil {
		return reply{}, err
	}
	return c.read(args[0])
}

// read reads the reply to command; an error reply is a *ReplyError.
func (c *client) read(command string) (reply, error) {
	r, err := c.readReply()
	if err != nil {
		return r, err
	}
	if r.kind == '-' {
		return r, &ReplyError{Command: strings.ToUpper(command), Message: string(r.str)}
	}
	return r, nil
}

// selectDB makes db the connection's database.
func (c *client) selectDB(db int) error {
	if db == c.db {
		return nil
	}
	if _, err := c.do("SELECT", strconv.Itoa(db)); err != nil {
		return err
	}
	c.db = db
	return nil
}

// readLine reads one header line without its CRLF.
func (c *client) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		var long []byte
		long = append(long, line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(long) < maxLine {
			line, err = c.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("redis: a reply line longer than %d bytes: is this a Redis server?", maxLine)
		}
		return nil, c.failed(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redis: a reply line %q does not end in CRLF: is this a Redis server?", truncate(line))
	}
	return line[:len(line)-2], nil
}

// readHeader reads a reply's type and what its line says: the length of a bulk string or an
// array, or the whole of the other kinds.
func (c *client) readHeader() (kind byte, line []byte, err error) {
	line, err = c.readLine()
	if err != nil {
		return 0, nil, err
	}
	if len(line) == 0 {
		return 0, nil, errors.New("redis: an empty reply line: is this a Redis server?")
	}
	switch line[0] {
	case '+', '-', ':', '$', '*':
		return line[0], line[1:], nil
	}
	return 0, nil, fmt.Errorf("redis: a reply %q of no RESP2 type: is this a Redis server?", truncate(line))
}

func parseLength(line []byte) (int64, error) {
	n, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("redis: a reply length %q that is not one", truncate(line))
	}
	return n, nil
}

func (c *client) readReply() (reply, error) {
	kind, line, err := c.readHeader()
	if err != nil {
		return reply{}, err
	}
	r := reply{kind: kind}
	switch kind {
	case '+', '-':
		r.str = bytes.Clone(line)
	case ':':
		if r.num, err = strconv.ParseInt(string(line), 10, 64); err != nil {
			return r, fmt.Errorf("redis: an integer reply %q that is not one", truncate(line))
		}
	case '$':
		n, err := parseLength(line)
		if err != nil {
			return r, err
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		if r.str, err = readN(c.r, n); err != nil {
			return r, c.failed(err)
		}
		if err := c.crlf(); err != nil {
			return r, err
		}
	case '*':
		n, err := parseLength(line)
		if err != nil {
			return r, err
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		r.elems = make([]reply, 0, min(n, 1024))
		for range n {
			e, err := c.readReply()
			if err != nil {
				return r, err
			}
			r.elems = append(r.elems, e)
		}
	}
	return r, nil
}

// crlf reads the CRLF that ends a bulk string.
func (c *client) crlf() error {
	var b [2]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		return c.failed(err)
	}
	if b != [2]byte{'\r', '\n'} {
		return errors.New("redis: a bulk string not followed by CRLF: is this a Redis server?")
	}
	return nil
}

// readN reads n bytes. Beyond a size no reply of a sane server reaches unannounced, the buffer
// grows with what arrives rather than with what the length says, so that a corrupt length fails
// on the missing bytes rather than on allocating them.
func readN(r io.Reader, n int64) ([]byte, error) {
	if n <= 1<<20 {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, noEOF(err)
	}
	var buf bytes.Buffer
	_, err := io.CopyN(&buf, r, n)
	return buf.Bytes(), noEOF(err)
}

// noEOF makes an end in the middle of something an unexpected one.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// text is a reply as one string: what a query's cell holds. An array inside an array becomes a
// JSON array of its elements' texts (null for a nil), so that nesting survives.
func (r reply) text() string {
	switch {
	case r.null:
		return ""
	case r.kind == ':':
		return strconv.FormatInt(r.num, 10)
	case r.kind == '*':
		var b strings.Builder
		r.appendJSON(&b)
		return b.String()
	}
	return string(r.str)
}

func (r reply) appendJSON(b *strings.Builder) {
	switch {
	case r.null:
		b.WriteString("null")
	case r.kind == '*':
		b.WriteByte('[')
		for i, e := range r.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.appendJSON(b)
		}
		b.WriteByte(']')
	case r.kind == ':':
		b.WriteString(strconv.FormatInt(r.num, 10))
	default:
		// encoding/json writes invalid UTF-8 as U+FFFD: a nested binary value is not exact,
		// where a top-level one is.
		var q bytes.Buffer
		enc := json.NewEncoder(&q)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(string(r.str))
		b.Write(bytes.TrimSuffix(q.Bytes(), []byte("\n")))
	}
}
