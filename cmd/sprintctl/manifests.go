package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sprint-project/sprint/apis"
)

// source is one manifest file (or stdin) and the Runs, Schedules and
// Notifiers it holds.
type source struct {
	name string
	runs []apis.Run
	// docs is, for each of runs, its 1-based document in a multi-document
	// stream, or 0 when the file held one document.
	docs      []int
	schedules []apis.Schedule
	// scheduleDocs is docs for schedules.
	scheduleDocs []int
	// notifiers and notifierDocs: the same for the file's Notifiers.
	notifiers    []apis.Notifier
	notifierDocs []int
}

// where names a Run's origin for messages: "FILE" or "FILE: document N".
func (s source) where(i int) string { return s.at(s.docs, i) }

// at names the origin of the i-th object of a kind whose documents are
// docs (docs, scheduleDocs, notifierDocs).
func (s source) at(docs []int, i int) string {
	if docs[i] > 0 {
		return fmt.Sprintf("%s: document %d", s.name, docs[i])
	}
	return s.name
}

// countObjects is how many Runs, Schedules and Notifiers the sources hold.
func countObjects(srcs []source) int {
	n := 0
	for _, s := range srcs {
		n += len(s.runs) + len(s.schedules) + len(s.notifiers)
	}
	return n
}

// readManifests reads every -f argument: files, directories (their
// .yaml/.yml/.json files; subdirectories with -R) and "-" for stdin.
func readManifests(paths []string, recursive bool, stdin io.Reader) ([]source, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no manifests: give -f FILE, -f DIR or -f -")
	}
	var out []source
	for _, p := range paths {
		if p == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read stdin: %w", err)
			}
			src, err := decode("stdin", b)
			if err != nil {
				return nil, err
			}
			out = append(out, src)
			continue
		}
		files, err := manifestFiles(p, recursive)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", f, err)
			}
			src, err := decode(f, b)
			if err != nil {
				return nil, err
			}
			out = append(out, src)
		}
	}
	return out, nil
}

func decode(name string, b []byte) (source, error) {
	m, err := apis.DecodeManifest(b)
	if err != nil {
		return source{}, fmt.Errorf("%s: %w", name, err)
	}
	src := source{name: name}
	for _, d := range m.Runs {
		for _, r := range d.Runs {
			src.runs = append(src.runs, r)
			src.docs = append(src.docs, d.Index)
		}
		for _, sc := range d.Schedules {
			src.schedules = append(src.schedules, sc)
			src.scheduleDocs = append(src.scheduleDocs, d.Index)
		}
	}
	for _, d := range m.Notifiers {
		for _, n := range d.Notifiers {
			src.notifiers = append(src.notifiers, n)
			src.notifierDocs = append(src.notifierDocs, d.Index)
		}
	}
	return src, nil
}

// manifestFiles lists a file, or a directory's manifests in name order.
func manifestFiles(path string, recursive bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", path, err)
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("directory %s holds no .yaml, .yml or .json files", path)
	}
	return files, nil
}
