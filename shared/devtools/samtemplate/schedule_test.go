package samtemplate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

func TestScheduleEvents(t *testing.T) {
	tmpl := `
Parameters:
  TickOn:
    Type: String
    Default: "false"
Resources:
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Often:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
        Nightly:
          Type: Schedule
          Properties:
            Schedule: "cron(0 3 * * ? *)"
            Enabled: false
        Paused:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
            State: DISABLED
        FromParameter:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
            Enabled: !Ref TickOn
`
	tp, err := Parse([]byte(tmpl))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	fn, _ := tp.Function("Ticker")
	want := []Event{
		{Name: "Often", Type: "Schedule", Schedule: &ScheduleEvent{Expression: "rate(5 minutes)", Enabled: true}},
		{Name: "Nightly", Type: "Schedule", Schedule: &ScheduleEvent{Expression: "cron(0 3 * * ? *)"}},
		{Name: "Paused", Type: "Schedule", Schedule: &ScheduleEvent{Expression: "rate(1 hour)"}},
		{Name: "FromParameter", Type: "Schedule", Schedule: &ScheduleEvent{Expression: "rate(1 day)"}},
	}
	if diff := cmp.Diff(want, fn.Events, ignoreNodes); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
}

func TestScheduleEventErrors(t *testing.T) {
	fn := func(props string) string {
		return "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        Tick:\n          Type: Schedule\n" +
			"          Properties:\n" + props
	}
	tests := []struct {
		name, props, wantErr string
	}{
		{name: "no expression", props: "            Enabled: true\n", wantErr: "Schedule event has no Schedule expression"},
		{name: "not rate or cron", props: "            Schedule: every 5 minutes\n", wantErr: `Schedule "every 5 minutes" is neither rate(...) nor cron(...)`},
		{name: "empty rate", props: "            Schedule: rate()\n", wantErr: "is neither rate(...) nor cron(...)"},
		{name: "unclosed", props: "            Schedule: rate(5 minutes\n", wantErr: "is neither rate(...) nor cron(...)"},
		{name: "enabled and state", props: "            Schedule: rate(5 minutes)\n            Enabled: true\n            State: ENABLED\n",
			wantErr: "sets both Enabled and State"},
		{name: "unknown state", props: "            Schedule: rate(5 minutes)\n            State: PAUSED\n", wantErr: `State must be ENABLED or DISABLED, got "PAUSED"`},
		{name: "enabled not a boolean", props: "            Schedule: rate(5 minutes)\n            Enabled: sometimes\n", wantErr: `Enabled must be true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(fn(tt.props)))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "event Tick") || !apperr.Is(err, apperr.Invalid) {
				t.Errorf("error %v: want it Invalid and naming the event", err)
			}
		})
	}
}
