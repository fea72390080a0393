package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// httpMethods are the operation keys of an OpenAPI path item, in the
// spelling of the document (lower case).
var httpMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// KeepList is a parsed keep-list file: the operations to keep, one
// "METHOD /path/template" per line, and "origin:" lines that are copied
// into the extract's header. A '#' starts a comment; blank lines are
// ignored.
type KeepList struct {
	// Origin holds the text of the "origin:" lines, in file order.
	Origin []string
	// Ops holds the operations in file order.
	Ops []Op
}

// Op is one operation of a keep-list.
type Op struct {
	Method string // lower case, as in the document
	Path   string // the path template exactly as the document spells it
	Line   int    // line number in the keep-list file
}

// String returns the operation as written in a keep-list.
func (o Op) String() string { return strings.ToUpper(o.Method) + " " + o.Path }

// ParseKeepList reads a keep-list. It rejects unknown methods, paths that
// do not start with '/', lines that are neither an operation nor an
// origin, duplicates, and an empty list.
func ParseKeepList(data []byte) (*KeepList, error) {
	kl := &KeepList{}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "origin:"); ok {
			text := strings.TrimSpace(rest)
			if text == "" {
				return nil, fmt.Errorf("keep-list line %d: empty origin", n)
			}
			kl.Origin = append(kl.Origin, text)
			continue
		}
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("keep-list line %d: want \"METHOD /path\", got %q", n, line)
		}
		method := strings.ToLower(fields[0])
		if !httpMethods[method] {
			return nil, fmt.Errorf("keep-list line %d: unknown method %q", n, fields[0])
		}
		if !strings.HasPrefix(fields[1], "/") {
			return nil, fmt.Errorf("keep-list line %d: path %q does not start with /", n, fields[1])
		}
		op := Op{Method: method, Path: fields[1], Line: n}
		if first, dup := seen[op.String()]; dup {
			return nil, fmt.Errorf("keep-list line %d: %s is already listed on line %d", n, op, first)
		}
		seen[op.String()] = n
		kl.Ops = append(kl.Ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read keep-list: %w", err)
	}
	if len(kl.Ops) == 0 {
		return nil, fmt.Errorf("keep-list lists no operation")
	}
	return kl, nil
}
