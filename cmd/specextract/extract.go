package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Keys dropped wherever they are keywords of the document (never where they
// are names: a schema property called "description" stays).
var droppedKeys = map[string]bool{
	"description": true, "summary": true, "example": true, "examples": true,
	"externalDocs": true, "tags": true,
}

// Keys whose values are data (JSON values, name lists, security
// requirements), copied as they are without looking for keywords in them.
var dataKeys = map[string]bool{
	"default": true, "enum": true, "const": true, "required": true,
	"security": true, "scopes": true,
}

// Keys whose mapping values map names (property names, status codes, media
// types, component names) to document objects.
var nameMapKeys = map[string]bool{
	"properties": true, "patternProperties": true, "definitions": true, "$defs": true,
	"dependentSchemas": true, "schemas": true, "parameters": true, "responses": true,
	"requestBodies": true, "headers": true, "securitySchemes": true,
	"securityDefinitions": true, "content": true, "encoding": true, "links": true,
	"callbacks": true, "pathItems": true, "variables": true,
}

// Top-level keys of the output, besides paths and the component sections.
var keptTopLevel = map[string]bool{
	"openapi": true, "swagger": true, "jsonSchemaDialect": true, "info": true,
	"servers": true, "host": true, "basePath": true, "schemes": true,
	"consumes": true, "produces": true, "security": true,
}

// Swagger 2.0 keeps its reusable objects at the top level; OpenAPI 3 under
// "components".
var swaggerSections = map[string]bool{
	"definitions": true, "parameters": true, "responses": true, "securityDefinitions": true,
}

// Options describe how the extract names its inputs in its header.
type Options struct {
	// SourceName is the vendor document's file name (no directory, so that
	// the header does not depend on where the document was read from).
	SourceName string
	// KeepPath and OutPath are the keep-list and output paths as given on
	// the command line, relative to the repository root.
	KeepPath, OutPath string
	// Date is the production date written in the header (YYYY-MM-DD).
	Date string
}

// Stats counts what an extract kept.
type Stats struct {
	Operations int
	Paths      int
	Components map[string]int // "schemas", "definitions", ... → count
}

// componentKey names one reusable object: its section ("schemas" for
// "#/components/schemas/X", "definitions" for "#/definitions/X") and name.
type componentKey struct{ section, name string }

type extractor struct {
	root    *yaml.Node // the source's top-level mapping
	openapi bool       // true for OpenAPI 3.x, false for Swagger 2.0
	queue   []componentKey
	seen    map[componentKey]bool
	errs    []string
}

// Extract trims the OpenAPI 3.x or Swagger 2.0 document src (JSON or YAML)
// to the operations of keep and the components they reference,
// transitively, with descriptions, summaries, examples and tags removed,
// and returns it as YAML behind a comment header naming the source.
// Key order follows the source, so the same inputs give the same bytes.
func Extract(src []byte, keep *KeepList, opt Options) ([]byte, Stats, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, Stats{}, fmt.Errorf("parse %s: %w", opt.SourceName, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, Stats{}, fmt.Errorf("parse %s: not a mapping document", opt.SourceName)
	}
	x := &extractor{root: doc.Content[0], seen: map[componentKey]bool{}}
	var format, version string
	if v := get(x.root, "openapi"); v != nil {
		x.openapi, format, version = true, "OpenAPI", v.Value
		if !strings.HasPrefix(version, "3.") {
			return nil, Stats{}, fmt.Errorf("%s: openapi %q: only 3.x is supported", opt.SourceName, version)
		}
	} else if v := get(x.root, "swagger"); v != nil && v.Value == "2.0" {
		format, version = "Swagger", v.Value
	} else {
		return nil, Stats{}, fmt.Errorf("%s: neither an OpenAPI 3.x nor a Swagger 2.0 document", opt.SourceName)
	}

	paths, st, err := x.paths(keep)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("%s: %w", opt.SourceName, err)
	}
	// Security schemes are few and named by the security requirements:
	// keep them all.
	for _, sec := range x.sections() {
		if sec.section == "securitySchemes" || sec.section == "securityDefinitions" {
			for i := 0; i < len(sec.node.Content); i += 2 {
				x.enqueue(componentKey{sec.section, sec.node.Content[i].Value})
			}
		}
	}
	kept := map[componentKey]*yaml.Node{}
	for len(x.queue) > 0 {
		k := x.queue[0]
		x.queue = x.queue[1:]
		n := x.component(k)
		if n == nil {
			x.errs = append(x.errs, fmt.Sprintf("reference to %s/%s: no such component", k.section, k.name))
			continue
		}
		kept[k] = x.keyword(n, k.section == "responses")
	}
	if len(x.errs) > 0 {
		sort.Strings(x.errs)
		return nil, Stats{}, fmt.Errorf("%s: %s", opt.SourceName, strings.Join(x.errs, "; "))
	}

	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	st.Components = map[string]int{}
	for i := 0; i < len(x.root.Content); i += 2 {
		k, v := x.root.Content[i], resolve(x.root.Content[i+1])
		switch {
		case k.Value == "paths":
			out.Content = append(out.Content, scalar(k), paths)
		case k.Value == "info":
			out.Content = append(out.Content, scalar(k), x.keyword(filterKeys(v, "title", "version", "license"), false))
		case k.Value == "components" && x.openapi:
			comps := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for j := 0; j < len(v.Content); j += 2 {
				if sec := keptSection(v.Content[j].Value, resolve(v.Content[j+1]), kept, st.Components); sec != nil {
					comps.Content = append(comps.Content, scalar(v.Content[j]), sec)
				}
			}
			if len(comps.Content) > 0 {
				out.Content = append(out.Content, scalar(k), comps)
			}
		case swaggerSections[k.Value] && !x.openapi:
			if sec := keptSection(k.Value, v, kept, st.Components); sec != nil {
				out.Content = append(out.Content, scalar(k), sec)
			}
		case keptTopLevel[k.Value] && dataKeys[k.Value]:
			out.Content = append(out.Content, scalar(k), data(v))
		case keptTopLevel[k.Value]:
			out.Content = append(out.Content, scalar(k), x.keyword(v, false))
		}
	}

	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{out}}); err != nil {
		return nil, Stats{}, fmt.Errorf("encode extract of %s: %w", opt.SourceName, err)
	}
	if err := enc.Close(); err != nil {
		return nil, Stats{}, fmt.Errorf("encode extract of %s: %w", opt.SourceName, err)
	}
	var title, docVersion string
	if info := resolve(get(x.root, "info")); info != nil {
		if t := get(info, "title"); t != nil {
			title = t.Value
		}
		if v := get(info, "version"); v != nil {
			docVersion = v.Value
		}
	}
	sum := sha256.Sum256(src)
	var h strings.Builder
	fmt.Fprintf(&h, "# Trimmed extract of a vendor API document made by cmd/specextract: do not edit,\n")
	fmt.Fprintf(&h, "# regenerate. It keeps the operations listed in %s\n", opt.KeepPath)
	fmt.Fprintf(&h, "# and the components they reference, transitively; descriptions, summaries,\n")
	fmt.Fprintf(&h, "# examples and tags are removed (a response keeps an empty description).\n")
	fmt.Fprintf(&h, "#\n")
	fmt.Fprintf(&h, "# Source:   %s (%d bytes, sha256 %s)\n", opt.SourceName, len(src), hex.EncodeToString(sum[:]))
	fmt.Fprintf(&h, "# Document: %q version %q (%s %s)\n", title, docVersion, format, version)
	for _, o := range keep.Origin {
		fmt.Fprintf(&h, "# Origin:   %s\n", o)
	}
	fmt.Fprintf(&h, "# Produced: %s, from the repository root, by\n", opt.Date)
	fmt.Fprintf(&h, "#   go run ./cmd/specextract -src <vendor-specs>/%s -keep %s -out %s -date %s\n",
		opt.SourceName, opt.KeepPath, opt.OutPath, opt.Date)
	fmt.Fprintf(&h, "#   (<vendor-specs>: the folder holding the vendor's document; add -check to verify.)\n")
	fmt.Fprintf(&h, "# Kept:     %d operations on %d paths; %s\n", st.Operations, st.Paths, componentCounts(st.Components))
	return append([]byte(h.String()), body.Bytes()...), st, nil
}

func componentCounts(m map[string]int) string {
	if len(m) == 0 {
		return "no components"
	}
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// paths builds the trimmed paths object: each kept path item with its
// non-operation keys (path-level parameters, servers) and its kept
// operations, in source order.
func (x *extractor) paths(keep *KeepList) (*yaml.Node, Stats, error) {
	src := resolve(get(x.root, "paths"))
	if src == nil || src.Kind != yaml.MappingNode {
		return nil, Stats{}, fmt.Errorf("the document has no paths")
	}
	want := map[string]map[string]bool{}
	for _, op := range keep.Ops {
		if want[op.Path] == nil {
			want[op.Path] = map[string]bool{}
		}
		want[op.Path][op.Method] = true
	}
	found := map[string]bool{}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	var st Stats
	for i := 0; i < len(src.Content); i += 2 {
		tmpl, item := src.Content[i].Value, resolve(src.Content[i+1])
		methods := want[tmpl]
		if methods == nil || item.Kind != yaml.MappingNode {
			continue
		}
		trimmed := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		ops := 0
		for j := 0; j < len(item.Content); j += 2 {
			key := item.Content[j].Value
			if httpMethods[key] {
				if !methods[key] {
					continue
				}
				found[key+" "+tmpl] = true
				ops++
			}
			trimmed.Content = append(trimmed.Content, item.Content[j], item.Content[j+1])
		}
		if ops == 0 {
			continue
		}
		out.Content = append(out.Content, scalar(src.Content[i]), x.keyword(trimmed, false))
		st.Operations += ops
		st.Paths++
	}
	var missing []string
	for _, op := range keep.Ops {
		if !found[op.Method+" "+op.Path] {
			missing = append(missing, fmt.Sprintf("%s (keep-list line %d)", op, op.Line))
		}
	}
	if len(missing) > 0 {
		return nil, Stats{}, fmt.Errorf("not operations of the document: %s", strings.Join(missing, ", "))
	}
	return out, st, nil
}

type section struct {
	section string
	node    *yaml.Node
}

// sections lists the document's component sections (OpenAPI 3's
// components.*, Swagger 2.0's top-level definitions, parameters, ...).
func (x *extractor) sections() []section {
	var out []section
	if x.openapi {
		comps := resolve(get(x.root, "components"))
		if comps == nil || comps.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i < len(comps.Content); i += 2 {
			if v := resolve(comps.Content[i+1]); v.Kind == yaml.MappingNode {
				out = append(out, section{comps.Content[i].Value, v})
			}
		}
		return out
	}
	for i := 0; i < len(x.root.Content); i += 2 {
		k := x.root.Content[i].Value
		if v := resolve(x.root.Content[i+1]); swaggerSections[k] && v.Kind == yaml.MappingNode {
			out = append(out, section{k, v})
		}
	}
	return out
}

// component returns the source node of k, or nil.
func (x *extractor) component(k componentKey) *yaml.Node {
	for _, s := range x.sections() {
		if s.section == k.section {
			return resolve(get(s.node, k.name))
		}
	}
	return nil
}

// keptSection returns the kept components of one section, in source order,
// or nil when none is kept; it counts them in counts.
func keptSection(name string, src *yaml.Node, kept map[componentKey]*yaml.Node, counts map[string]int) *yaml.Node {
	if src == nil || src.Kind != yaml.MappingNode {
		return nil
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i < len(src.Content); i += 2 {
		if n, ok := kept[componentKey{name, src.Content[i].Value}]; ok {
			out.Content = append(out.Content, scalar(src.Content[i]), n)
			counts[name]++
		}
	}
	if len(out.Content) == 0 {
		return nil
	}
	return out
}

// enqueue schedules a component for copying, once.
func (x *extractor) enqueue(k componentKey) {
	if !x.seen[k] {
		x.seen[k] = true
		x.queue = append(x.queue, k)
	}
}

// ref records a $ref (or discriminator mapping target). Local references
// keep the whole component they point into; other references are errors,
// since the extract must stand alone.
func (x *extractor) ref(r string) {
	ptr, ok := strings.CutPrefix(r, "#/")
	if !ok {
		x.errs = append(x.errs, fmt.Sprintf("reference %q is not local to the document", r))
		return
	}
	segs := strings.Split(ptr, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	switch {
	case x.openapi && segs[0] == "components" && len(segs) >= 3:
		x.enqueue(componentKey{segs[1], segs[2]})
	case !x.openapi && swaggerSections[segs[0]] && len(segs) >= 2:
		x.enqueue(componentKey{segs[0], segs[1]})
	default:
		x.errs = append(x.errs, fmt.Sprintf("reference %q points outside the reusable components", r))
	}
}

// keyword copies n, an object of the document whose keys are keywords
// (an operation, a schema, a parameter...), dropping documentation keys,
// recording references, and recursing according to what each key holds.
// A Response keeps an empty description, which both formats require.
func (x *extractor) keyword(n *yaml.Node, isResponse bool) *yaml.Node {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag}
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], resolve(n.Content[i+1])
			switch key := k.Value; {
			case key == "description" && isResponse:
				out.Content = append(out.Content, scalar(k), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""})
			case droppedKeys[key]:
			case key == "$ref" && v.Kind == yaml.ScalarNode:
				x.ref(v.Value)
				out.Content = append(out.Content, scalar(k), scalar(v))
			case key == "mapping" && v.Kind == yaml.MappingNode:
				for j := 1; j < len(v.Content); j += 2 {
					if t := resolve(v.Content[j]); t.Kind == yaml.ScalarNode && strings.HasPrefix(t.Value, "#") {
						x.ref(t.Value)
					}
				}
				out.Content = append(out.Content, scalar(k), data(v))
			case dataKeys[key] || strings.HasPrefix(key, "x-"):
				out.Content = append(out.Content, scalar(k), data(v))
			case nameMapKeys[key] && v.Kind == yaml.MappingNode:
				m := &yaml.Node{Kind: yaml.MappingNode, Tag: v.Tag}
				for j := 0; j < len(v.Content); j += 2 {
					m.Content = append(m.Content, scalar(v.Content[j]), x.keyword(v.Content[j+1], key == "responses"))
				}
				out.Content = append(out.Content, scalar(k), m)
			default:
				out.Content = append(out.Content, scalar(k), x.keyword(v, false))
			}
		}
		return out
	case yaml.SequenceNode:
		out := &yaml.Node{Kind: yaml.SequenceNode, Tag: n.Tag}
		for _, e := range n.Content {
			out.Content = append(out.Content, x.keyword(e, false))
		}
		return out
	default:
		return scalar(n)
	}
}

// data deep-copies a value as it is, with the source's formatting (flow
// style, quoting, comments) reset so that JSON and YAML sources encode the
// same way.
func data(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		return scalar(n)
	}
	out := &yaml.Node{Kind: n.Kind, Tag: n.Tag}
	for _, c := range n.Content {
		out.Content = append(out.Content, data(c))
	}
	return out
}

// scalar copies a scalar node without its style or comments; the encoder
// quotes it where the plain form would change its type.
func scalar(n *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: n.Tag, Value: n.Value}
}

// resolve follows YAML aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return resolve(m.Content[i+1])
		}
	}
	return nil
}

// filterKeys returns a mapping holding only the given keys of m, in m's
// order.
func filterKeys(m *yaml.Node, keys ...string) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if m == nil || m.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i < len(m.Content); i += 2 {
		for _, k := range keys {
			if m.Content[i].Value == k {
				out.Content = append(out.Content, m.Content[i], m.Content[i+1])
			}
		}
	}
	return out
}
