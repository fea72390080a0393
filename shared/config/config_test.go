package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestReaderReportsEveryProblemAtOnce(t *testing.T) {
	r := New(env(map[string]string{"QUEUE_URL": "not a url", "FLAG": "maybe"}))
	r.String("TABLE_NAME")
	r.URL("QUEUE_URL")
	r.Bool("FLAG", false)
	r.String("SECRET_PREFIX")
	err := r.Err()
	if err == nil {
		t.Fatal("Err() = nil, want every problem")
	}
	want := `configuration: TABLE_NAME is not set; QUEUE_URL is not an absolute URL; FLAG="maybe" is not a boolean; SECRET_PREFIX is not set`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Err() (-want +got):\n%s", diff)
	}
}

func TestReaderValues(t *testing.T) {
	r := New(env(map[string]string{
		"TABLE_NAME": " t1 ",
		"QUEUE_URL":  "http://127.0.0.1:5000/123/q",
		"FLAG":       "true",
		"WAIT":       "3s",
	}))
	type got struct {
		Table, Queue, Opt string
		Flag, Def         bool
		Wait, DefWait     time.Duration
	}
	g := got{
		Table: r.String("TABLE_NAME"), Queue: r.URL("QUEUE_URL"), Opt: r.Optional("NOPE", "dflt"),
		Flag: r.Bool("FLAG", false), Def: r.Bool("UNSET", true),
		Wait: r.Duration("WAIT", 0), DefWait: r.Duration("UNSET", time.Minute),
	}
	want := got{Table: "t1", Queue: "http://127.0.0.1:5000/123/q", Opt: "dflt", Flag: true, Def: true, Wait: 3 * time.Second, DefWait: time.Minute}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}
