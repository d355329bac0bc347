package sink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rippledb/ripple/internal/row"
)

// streamFile appends events to a file, one line each, and fsyncs after
// every line: a line that is complete on disk is durable, and a crash can
// leave at most one torn line at the end, which open truncates away.
type streamFile struct {
	sink string
	path string
	log  *slog.Logger

	f    *os.File // nil until open
	size int64    // bytes of complete lines; writes go here
	// failed is set when a write could not be undone: the file's end is
	// unknown, so nothing more is written in this run.
	failed error
}

func (o *streamFile) String() string { return "file " + o.path }

func (o *streamFile) open(_ context.Context, pipeline string) (row.LSN, error) {
	_, statErr := os.Stat(o.path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(o.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	o.f = f
	if created {
		// The new file's directory entry must be durable before the first
		// event in it is reported durable.
		if err := syncDir(filepath.Dir(o.path)); err != nil {
			return 0, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file (use - for standard output)", o.path)
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	// Drop a torn last line: everything after the last newline.
	nl, err := lastByteBefore(f, size, '\n')
	if err != nil {
		return 0, err
	}
	if end := nl + 1; end < size {
		o.log.Warn("truncating a torn last line left by a crash", "file", o.path, "bytes", size-end)
		if err := f.Truncate(end); err != nil {
			return 0, fmt.Errorf("truncate torn last line: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		size = end
	}
	o.size = size
	if size == 0 {
		return 0, nil
	}
	start, err := lastByteBefore(f, size-1, '\n')
	if err != nil {
		return 0, err
	}
	start++
	h, err := readStreamHeader(io.NewSectionReader(f, start, size-1-start))
	if err != nil {
		return 0, fmt.Errorf("last line (at byte %d) is not a complete event; the file is damaged or not a ripple change stream: %w", start, err)
	}
	if h.Pipeline != pipeline {
		return 0, fmt.Errorf("the file holds events of pipeline %q, not %q", h.Pipeline, pipeline)
	}
	return h.LSN, nil
}

// lastByteBefore returns the offset of the last c in f[0:end), or -1.
func lastByteBefore(f *os.File, end int64, c byte) (int64, error) {
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := min(int64(len(buf)), end)
		chunk := buf[:n]
		if _, err := f.ReadAt(chunk, end-n); err != nil {
			return 0, err
		}
		for i := n - 1; i >= 0; i-- {
			if chunk[i] == c {
				return end - n + i, nil
			}
		}
		end -= n
	}
	return -1, nil
}

func (o *streamFile) write(_ context.Context, _ string, _ row.LSN, event []byte) error {
	if o.failed != nil {
		return o.failed
	}
	_, err := o.f.WriteAt(event, o.size)
	if err == nil {
		err = o.f.Sync()
	}
	if err != nil {
		// Take the partial line back so the next event does not follow
		// garbage; if even that fails, open's truncation will on restart.
		if terr := o.f.Truncate(o.size); terr != nil {
			o.failed = fmt.Errorf("an earlier write failed and could not be undone (%v); restart to recover", terr)
		}
		return err
	}
	o.size += int64(len(event))
	return nil
}

func (o *streamFile) close() error {
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}

// replay calls fn with every complete line of the file, oldest first.
func (o *streamFile) replay(_ context.Context, fn func([]byte) error) error {
	f, err := os.Open(o.path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.LimitReader(f, o.size), 256<<10)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // a line without its newline is not complete
		}
		if err != nil {
			return err
		}
		if err := fn(line); err != nil {
			return err
		}
	}
}

// forget renames the file to path+".dropped".
func (o *streamFile) forget(context.Context) error {
	err := os.Rename(o.path, o.path+".dropped")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	o.log.Info("change stream file renamed", "from", o.path, "to", o.path+".dropped")
	return syncDir(filepath.Dir(o.path))
}

// syncDir fsyncs a directory so that entries created or renamed in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
