package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/consumer"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/logx"
)

// recorder is a consumer.Service that records its calls.
type recorder struct {
	calls []string
	fail  error
}

func (r *recorder) Apply(_ context.Context, x rates.Rate) error {
	r.calls = append(r.calls, fmt.Sprintf("apply %s v%d", x.CurrencyCode, x.Version))
	return r.fail
}

func (r *recorder) ApplyMany(_ context.Context, xs []rates.Rate) error {
	s := "apply-many"
	for _, x := range xs {
		s += fmt.Sprintf(" %s v%d", x.CurrencyCode, x.Version)
	}
	r.calls = append(r.calls, s)
	return r.fail
}

func (r *recorder) Invalidate(_ context.Context, codes ...string) error {
	r.calls = append(r.calls, fmt.Sprint("invalidate ", codes))
	return r.fail
}

func (r *recorder) RefreshAll(context.Context) error {
	r.calls = append(r.calls, "refresh-all")
	return r.fail
}

func rateMsg(t *testing.T, code string, v int64) kafka.Message {
	t.Helper()
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: code, CurrencyName: code, DealBaseRate: decimal.New(1400, 0),
		Source: "koreaexim", RecordedAt: at, UpdatedAt: at, Version: v}}
	event.Stamp(ev, "run")
	m, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func invalidationMsg(t *testing.T, keys ...string) kafka.Message {
	t.Helper()
	ev := &event.CacheInvalidation{CacheKeys: keys, InvalidationType: "rates_updated",
		InvalidatedAt: time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)}
	event.Stamp(ev, "run")
	m, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A run of rate updates is one ApplyMany; other events go through the
// single handler in their place in the order.
func TestBatchHandlerGroupsRateUpdates(t *testing.T) {
	rec := &recorder{}
	h := consumer.BatchHandler(rec, logx.Discard())
	ms := []kafka.Message{rateMsg(t, "USD", 1), rateMsg(t, "JPY", 2), invalidationMsg(t, "exchange_rate:EUR"), rateMsg(t, "USD", 3)}
	if err := h(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	want := []string{"apply-many USD v1 JPY v2", "invalidate [EUR]", "apply-many USD v3"}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("calls = %q, want %q", rec.calls, want)
	}
}

// An invalid message fails the batch before anything is applied, with an
// error the runtime recognises as invalid; a failed write is returned too.
func TestBatchHandlerFailsWholeBatch(t *testing.T) {
	rec := &recorder{}
	h := consumer.BatchHandler(rec, logx.Discard())
	poison := kafka.Message{Topic: event.TopicExchangeRateUpdated, Value: []byte(`{"currency_code":`)}
	err := h(context.Background(), []kafka.Message{rateMsg(t, "USD", 1), poison, rateMsg(t, "JPY", 1)})
	if !errors.Is(err, event.ErrInvalid) || len(rec.calls) != 0 {
		t.Errorf("poison batch: err = %v, calls %q; want ErrInvalid and no call", err, rec.calls)
	}
	down := errors.New("redis down")
	rec = &recorder{fail: down}
	h = consumer.BatchHandler(rec, logx.Discard())
	if err := h(context.Background(), []kafka.Message{rateMsg(t, "USD", 1), rateMsg(t, "JPY", 1)}); !errors.Is(err, down) {
		t.Errorf("failed write: err = %v, want %v", err, down)
	}
}
