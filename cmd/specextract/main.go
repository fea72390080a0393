// Command specextract trims a vendor's OpenAPI 3.x or Swagger 2.0 document
// to the operations a keep-list names and the components they reference,
// so that the repository carries the contract its tests check against
// (testdata/vendor-contracts) without the vendor's full document.
//
// Usage, from the repository root:
//
//	go run ./cmd/specextract -src DIR/ninjaone-openapi.yaml \
//	    -keep testdata/vendor-contracts/ninjaone-openapi.keep \
//	    -out testdata/vendor-contracts/ninjaone-openapi.yaml -date 2026-12-03
//
// The output is YAML behind a comment header that names the source file
// (with its size and SHA-256), the document's title and version, and the
// command that produced it. The same source, keep-list and date give the
// same bytes; -check compares instead of writing and fails on a
// difference.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "specextract:", err)
		os.Exit(1)
	}
}

// errDiffers reports that -check found the committed extract out of date.
var errDiffers = errors.New("differs from what the source and keep-list produce")

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("specextract", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	src := fs.String("src", "", "the vendor's OpenAPI 3.x or Swagger 2.0 document (JSON or YAML)")
	keep := fs.String("keep", "", "the keep-list: one \"METHOD /path\" per line")
	out := fs.String("out", "", "the extract to write (YAML)")
	date := fs.String("date", time.Now().UTC().Format(time.DateOnly), "production date written in the header (YYYY-MM-DD)")
	check := fs.Bool("check", false, "compare with -out instead of writing it; fail if they differ")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (flags: -src FILE -keep FILE -out FILE [-date YYYY-MM-DD] [-check])", err)
	}
	if *src == "" || *keep == "" || *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: specextract -src FILE -keep FILE -out FILE [-date YYYY-MM-DD] [-check]")
	}
	if _, err := time.Parse(time.DateOnly, *date); err != nil {
		return fmt.Errorf("-date %q: want YYYY-MM-DD", *date)
	}
	srcData, err := os.ReadFile(*src)
	if err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	keepData, err := os.ReadFile(*keep)
	if err != nil {
		return fmt.Errorf("read keep-list: %w", err)
	}
	kl, err := ParseKeepList(keepData)
	if err != nil {
		return fmt.Errorf("%s: %w", *keep, err)
	}
	got, st, err := Extract(srcData, kl, Options{
		SourceName: filepath.Base(*src),
		KeepPath:   filepath.ToSlash(*keep),
		OutPath:    filepath.ToSlash(*out),
		Date:       *date,
	})
	if err != nil {
		return err
	}
	if *check {
		have, err := os.ReadFile(*out)
		if err != nil {
			return fmt.Errorf("read extract: %w", err)
		}
		if !bytes.Equal(have, got) {
			return fmt.Errorf("%s %w (first difference on line %d)", *out, errDiffers, firstDiffLine(have, got))
		}
		fmt.Fprintf(stdout, "%s is up to date (%d bytes)\n", *out, len(got))
		return nil
	}
	if err := os.WriteFile(*out, got, 0o644); err != nil {
		return fmt.Errorf("write extract: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d bytes (source %d bytes), %d operations on %d paths, %s\n",
		*out, len(got), len(srcData), st.Operations, st.Paths, componentCounts(st.Components))
	return nil
}

// firstDiffLine returns the 1-based line on which a and b first differ.
func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return line
		}
		if a[i] == '\n' {
			line++
		}
	}
	return line
}
