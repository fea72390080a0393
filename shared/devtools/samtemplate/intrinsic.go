package samtemplate

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Resolver supplies what the template's intrinsic functions refer to: the
// pseudo parameters, parameter values, and the resources' deployed values.
type Resolver struct {
	// Pseudo parameters. Partition defaults to "aws", URLSuffix to
	// "amazonaws.com"; the others are an error to use when empty.
	StackName string
	Region    string
	AccountID string
	Partition string
	URLSuffix string
	// Parameters overrides parameter values; a parameter not here takes
	// its Default (and is an error to use without one).
	Parameters map[string]string
	// Ref returns the value of !Ref for a resource (a table's name, a
	// queue's URL, ...). GetAtt returns a resource attribute
	// (Queue.Arn, Queue.QueueUrl, Table.Arn, ...). Either may be nil, which
	// makes referring to resources that way an error.
	Ref    func(logicalID string) (string, error)
	GetAtt func(logicalID, attribute string) (string, error)
}

// Resolve evaluates a property value to a string: a scalar as written, or
// the intrinsics !Ref, !GetAtt (A.B and [A, B] forms), !Sub (string and
// [string, vars] forms), !Join and their long forms Ref / Fn::GetAtt /
// Fn::Sub / Fn::Join. Any other intrinsic, and any unknown name, is an
// error naming the node's line.
func (t *Template) Resolve(n *yaml.Node, r Resolver) (string, error) {
	n = deref(n)
	if n == nil {
		return "", errAt(nil, "no value to resolve")
	}
	in, err := parseIntrinsic(n)
	if err != nil {
		return "", err
	}
	if in == nil {
		if n.Kind != yaml.ScalarNode {
			return "", errAt(n, "want a scalar or an intrinsic function")
		}
		return n.Value, nil
	}
	switch in.fn {
	case "Ref":
		name := scalar(in.arg)
		if name == "" {
			return "", errAt(n, "!Ref needs a name")
		}
		return t.ref(n, name, r)
	case "Fn::GetAtt":
		id, attr, err := getAttArgs(in.arg)
		if err != nil {
			return "", err
		}
		return t.getAtt(n, id, attr, r)
	case "Fn::Sub":
		return t.sub(in.arg, r)
	case "Fn::Join":
		return t.join(in.arg, r)
	}
	return "", errAt(n, "intrinsic function %s is not supported", in.fn)
}

// ResolveMap resolves every value of m (an Environment, say).
func (t *Template) ResolveMap(m map[string]*yaml.Node, r Resolver) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		v, err := t.Resolve(m[k], r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func (t *Template) ref(n *yaml.Node, name string, r Resolver) (string, error) {
	if strings.HasPrefix(name, "AWS::") {
		return r.pseudo(n, name)
	}
	if par, ok := t.Parameter(name); ok {
		if v, ok := r.Parameters[name]; ok {
			return v, nil
		}
		if par.HasDefault {
			return par.Default, nil
		}
		return "", errAt(n, "parameter %s has no value and no Default", name)
	}
	if _, ok := t.Resources[name]; !ok {
		return "", errAt(n, "!Ref %s: no such parameter or resource", name)
	}
	if r.Ref == nil {
		return "", errAt(n, "!Ref %s: resource references are not available here", name)
	}
	v, err := r.Ref(name)
	if err != nil {
		return "", fmt.Errorf("line %d: !Ref %s: %w", n.Line, name, err)
	}
	return v, nil
}

func (t *Template) getAtt(n *yaml.Node, id, attr string, r Resolver) (string, error) {
	if _, ok := t.Resources[id]; !ok {
		return "", errAt(n, "!GetAtt %s.%s: no such resource", id, attr)
	}
	if r.GetAtt == nil {
		return "", errAt(n, "!GetAtt %s.%s: resource attributes are not available here", id, attr)
	}
	v, err := r.GetAtt(id, attr)
	if err != nil {
		return "", fmt.Errorf("line %d: !GetAtt %s.%s: %w", n.Line, id, attr, err)
	}
	return v, nil
}

func (r Resolver) pseudo(n *yaml.Node, name string) (string, error) {
	var v string
	switch name {
	case "AWS::StackName":
		v = r.StackName
	case "AWS::Region":
		v = r.Region
	case "AWS::AccountId":
		v = r.AccountID
	case "AWS::Partition":
		v = r.Partition
		if v == "" {
			v = "aws"
		}
	case "AWS::URLSuffix":
		v = r.URLSuffix
		if v == "" {
			v = "amazonaws.com"
		}
	case "AWS::StackId":
		if r.StackName != "" && r.Region != "" && r.AccountID != "" {
			p, _ := r.pseudo(n, "AWS::Partition")
			v = fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/local", p, r.Region, r.AccountID, r.StackName)
		}
	default:
		return "", errAt(n, "pseudo parameter %s is not supported", name)
	}
	if v == "" {
		return "", errAt(n, "pseudo parameter %s has no value here", name)
	}
	return v, nil
}

func (t *Template) sub(arg *yaml.Node, r Resolver) (string, error) {
	arg = deref(arg)
	var tmpl string
	vars := map[string]*yaml.Node{}
	switch {
	case arg.Kind == yaml.ScalarNode && !isIntrinsicTag(arg.Tag):
		tmpl = arg.Value
	case arg.Kind == yaml.SequenceNode && len(arg.Content) == 2:
		s := deref(arg.Content[0])
		if s.Kind != yaml.ScalarNode || isIntrinsicTag(s.Tag) {
			return "", errAt(s, "!Sub: the template must be a plain string")
		}
		tmpl = s.Value
		m := deref(arg.Content[1])
		if m.Kind != yaml.MappingNode {
			return "", errAt(m, "!Sub: the variables must be a mapping")
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			vars[m.Content[i].Value] = m.Content[i+1]
		}
	default:
		return "", errAt(arg, "!Sub takes a string or [string, {variables}]")
	}
	var b strings.Builder
	s := tmpl
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i+2:]
		j := strings.Index(s, "}")
		if j < 0 {
			return "", errAt(arg, "!Sub %q: unterminated ${", tmpl)
		}
		name := s[:j]
		s = s[j+1:]
		if strings.HasPrefix(name, "!") { // ${!Literal} renders as ${Literal}
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		name = strings.TrimSpace(name)
		var v string
		var err error
		switch {
		case name == "":
			return "", errAt(arg, "!Sub %q: empty ${}", tmpl)
		case vars[name] != nil:
			v, err = t.Resolve(vars[name], r)
		case strings.HasPrefix(name, "AWS::"):
			v, err = r.pseudo(arg, name)
		case strings.Contains(name, "."):
			id, attr, _ := strings.Cut(name, ".")
			v, err = t.getAtt(arg, id, attr, r)
		default:
			v, err = t.ref(arg, name, r)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
}

func (t *Template) join(arg *yaml.Node, r Resolver) (string, error) {
	arg = deref(arg)
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
		return "", errAt(arg, "!Join takes [delimiter, [values]]")
	}
	delim := deref(arg.Content[0])
	list := deref(arg.Content[1])
	if delim.Kind != yaml.ScalarNode || list.Kind != yaml.SequenceNode || isIntrinsicTag(list.Tag) {
		return "", errAt(arg, "!Join takes [delimiter, [values]]")
	}
	parts := make([]string, 0, len(list.Content))
	for _, p := range list.Content {
		v, err := t.Resolve(p, r)
		if err != nil {
			return "", err
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, delim.Value), nil
}

// intrinsic is a parsed intrinsic function call: its long name ("Ref",
// "Fn::GetAtt", ...) and its argument.
type intrinsic struct {
	fn  string
	arg *yaml.Node
}

// parseIntrinsic recognises !Tag short forms and single-key Ref / Fn::*
// mappings; it returns nil for anything else.
func parseIntrinsic(n *yaml.Node) (*intrinsic, error) {
	n = deref(n)
	if n == nil {
		return nil, nil
	}
	if isIntrinsicTag(n.Tag) {
		name := strings.TrimPrefix(n.Tag, "!")
		fn := "Fn::" + name
		if name == "Ref" || name == "Condition" {
			fn = name
		}
		arg := *n
		arg.Tag = ""
		switch arg.Kind {
		case yaml.ScalarNode:
			arg.Tag = "!!str"
		case yaml.SequenceNode:
			arg.Tag = "!!seq"
		case yaml.MappingNode:
			arg.Tag = "!!map"
		}
		return &intrinsic{fn: fn, arg: &arg}, nil
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return &intrinsic{fn: k, arg: deref(n.Content[1])}, nil
		}
	}
	return nil, nil
}

func isIntrinsicTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// getAttArgs splits a GetAtt argument, "Res.Attr" or [Res, Attr].
func getAttArgs(arg *yaml.Node) (id, attr string, err error) {
	arg = deref(arg)
	switch arg.Kind {
	case yaml.ScalarNode:
		id, attr, ok := strings.Cut(arg.Value, ".")
		if !ok || id == "" || attr == "" {
			return "", "", errAt(arg, "!GetAtt %q: want Resource.Attribute", arg.Value)
		}
		return id, attr, nil
	case yaml.SequenceNode:
		if len(arg.Content) == 2 {
			id, attr := scalar(arg.Content[0]), scalar(arg.Content[1])
			if id != "" && attr != "" {
				return id, attr, nil
			}
		}
	}
	return "", "", errAt(arg, "!GetAtt: want Resource.Attribute or [Resource, Attribute]")
}
