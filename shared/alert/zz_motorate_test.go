package alert_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

func TestZZMotoRate(t *testing.T) {
	st, _ := newTable(t)
	_ = st
	e := newHookEnv(t)
	sc := account.Scope{TenantID: "t", IntegrationID: "i"}
	for _, conc := range []int{1, 4, 16} {
		n := 600
		start := time.Now()
		var wg sync.WaitGroup
		for g := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < n; i += conc {
					if _, _, err := e.alerts.RecordDelivery(context.Background(), sc, fmt.Sprint("d", conc, "-", i), time.Now(), time.Hour); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("conc %d: UpdateItem %.0f/s", conc, float64(n)/time.Since(start).Seconds())
		start = time.Now()
		for g := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < n; i += conc {
					if err := e.sender.Send(context.Background(), e.queueURL, sqsqueue.Message{Body: fmt.Sprint("x", conc, i), GroupID: fmt.Sprint("g", i%100)}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("conc %d: SendMessage %.0f/s (queue grows)", conc, float64(n)/time.Since(start).Seconds())
	}
}
