package console

import (
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// countingFS counts the files opened or read through it.
type countingFS struct {
	fs.FS
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && !st.IsDir() {
		c.mu.Lock()
		c.reads[name]++
		c.mu.Unlock()
	}
	return f, nil
}

func (c *countingFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(c.FS, name) }

// TestFilesAreReadOnFirstRequestOnce checks that New reads no file (a cold
// start walks the directory only) and that racing first requests for a
// file read it once and all get the same body and ETag.
func TestFilesAreReadOnFirstRequestOnce(t *testing.T) {
	fsys := &countingFS{FS: fstest.MapFS{
		"index.html":   {Data: []byte("<!doctype html><title>x</title>")},
		"app.js":       {Data: []byte("import './lib/a.js';")},
		"lib/a.js":     {Data: []byte("export const a = 1;")},
		"i18n/en.json": {Data: []byte(`{"a":"b"}`)},
		"favicon.svg":  {Data: []byte("<svg/>")},
	}, reads: map[string]int{}}
	c, err := newFrom(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{}, fsys.reads); diff != "" {
		t.Fatalf("files read at start (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"app.js", "favicon.svg", "i18n/en.json", "index.html", "lib/a.js"}, c.Files()); diff != "" {
		t.Errorf("Files() (-want +got):\n%s", diff)
	}

	const racers = 16
	var wg sync.WaitGroup
	var bad atomic.Int32
	etags := make([]string, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := serve(t, c, AssetsRoute, "app.js", nil)
			if resp.StatusCode != 200 || resp.Body != "import './lib/a.js';" {
				bad.Add(1)
			}
			etags[i] = resp.Headers["etag"]
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d of %d racing first requests got a wrong answer", bad.Load(), racers)
	}
	for _, e := range etags[1:] {
		if e != etags[0] || e == "" {
			t.Fatalf("ETags differ between racing requests: %q", etags)
		}
	}
	serve(t, c, IndexRoute, "", nil)
	serve(t, c, IndexRoute, "", nil)
	if diff := cmp.Diff(map[string]int{"app.js": 1, "index.html": 1}, fsys.reads); diff != "" {
		t.Errorf("reads after serving app.js 17 times and index twice (-want +got):\n%s", diff)
	}
}
