package event

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/encoding/json"
	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/shared/kst"
)

// SchemaVersion is the payload version every producer writes today.
// Version 2 added cash_buy and cash_sell to exchange_rate_updated; the
// other payloads are the same in both. The optional freshness fields
// (fetched_at, next_update_at) may appear in either version: readers take
// them when present and null otherwise.
const SchemaVersion = 2

// MinSchemaVersion is the oldest payload version consumers still accept:
// during a rolling upgrade one partition holds events of both versions,
// and a version 1 exchange_rate_updated (no cash fields) is applied with
// null cash rates. Versions outside [MinSchemaVersion, SchemaVersion] are
// rejected as invalid.
const MinSchemaVersion = 1

// Event types, one per topic.
const (
	TypeNewDataReceived         = "new_data_received"
	TypeExchangeRateUpdated     = "exchange_rate_updated"
	TypeDataProcessingCompleted = "data_processing_completed"
	TypeCacheInvalidation       = "cache_invalidation"
)

// Header names on every message (DESIGN.md §6). They repeat the envelope
// fields so Kafka UI and kcat show them without decoding the payload.
const (
	HeaderEventID       = "event_id"
	HeaderEventType     = "event_type"
	HeaderSchemaVersion = "schema_version"
	HeaderCorrelationID = "correlation_id"
	HeaderProducer      = "producer"
	HeaderContentType   = "content-type"
)

// ErrInvalid marks a message that can never be handled: undecodable JSON,
// an unknown type or schema version, or a payload that breaks the contract.
// Consumers send such messages straight to the dead-letter topic.
var ErrInvalid = errors.New("invalid event")

// Meta is the envelope every payload carries.
type Meta struct {
	EventID       string `json:"event_id"`
	EventType     string `json:"event_type"`
	SchemaVersion int    `json:"schema_version"`
	CorrelationID string `json:"correlation_id"`
}

// Event is any payload of the contract.
type Event interface {
	// Topic is where the event is published.
	Topic() string
	// Key is the message key: source, currency code or invalidation type.
	Key() string
	// meta returns the envelope for reading and filling in; validate checks
	// the payload against the contract. Both keep the set of events sealed.
	meta() *Meta
	validate() error
}

// NewDataReceived announces one provider collection, once per run.
type NewDataReceived struct {
	Meta
	Source           string    `json:"source"`
	DataCount        int       `json:"data_count"`
	CollectionTime   time.Time `json:"collection_time"`
	ProcessingTimeMS int64     `json:"processing_time_ms"`
}

// Rate is one currency's current rate: what exchange_rate_updated carries,
// what the ingestor stores in latest_rates and what the currency service
// reads back and serves. It is the one declaration of these fields: the
// json tags are the wire contract, the db tags the latest_rates columns,
// so stores scan rows straight into it. Rates are KRW per one unit, as
// exact decimals encoded as JSON strings; TTS and TTB are null when the
// provider quotes no spread, CashBuy and CashSell when it quotes no cash
// rates (schema_version 2; absent from version 1 payloads).
type Rate struct {
	CurrencyCode string           `json:"currency_code" db:"currency_code"`
	CurrencyName string           `json:"currency_name" db:"currency_name"`
	DealBaseRate decimal.Decimal  `json:"deal_base_rate" db:"deal_base_rate"`
	TTS          *decimal.Decimal `json:"tts" db:"tts"`
	TTB          *decimal.Decimal `json:"ttb" db:"ttb"`
	CashBuy      *decimal.Decimal `json:"cash_buy" db:"cash_buy"`   // 현찰 살 때: the bank sells banknotes
	CashSell     *decimal.Decimal `json:"cash_sell" db:"cash_sell"` // 현찰 팔 때: the bank buys banknotes
	Source       string           `json:"source" db:"source"`
	RecordedAt   time.Time        `json:"recorded_at" db:"recorded_at"`
	// RateDate is the bank day (KST, YYYY-MM-DD) the rate belongs to:
	// for Korea Eximbank the day it was published for, which a rate
	// carried over a weekend or holiday keeps. Optional (omitted by
	// producers before it existed, and NULL in rows stored before then):
	// readers then take the KST day of RecordedAt (see Day).
	RateDate string `json:"rate_date,omitempty" db:"rate_date"`
	// QuotedAs is the code the source quoted this rate under when it is
	// not CurrencyCode: a source that quotes the yuan only as CNH (Korea
	// Eximbank's 위안화 row) has its CNY served from that quote with
	// QuotedAs "CNH", and the other way round. Empty when the source
	// quoted the currency itself. Optional, like RateDate.
	QuotedAs  string    `json:"quoted_as,omitempty" db:"quoted_as"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
	// FetchedAt is when ratewire fetched this rate from its source (the
	// fetch that produced this version); RecordedAt is the source's own
	// time of it. Optional, like RateDate: absent in events and NULL in
	// rows from before it existed.
	FetchedAt *time.Time `json:"fetched_at,omitempty" db:"fetched_at"`
	// NextUpdateAt is when the source was expected, as of that fetch, to
	// publish its next update, from its schedule (ExchangeRate-API's
	// time_next_update_unix, Korea Eximbank's next business day 11:00 KST,
	// the ECB's 16:00 CET on the next TARGET day, Hana Bank's next
	// opening at 09:00 KST). Absent when the source has no schedule to go
	// by: the simulator, and Hana Bank in banking hours, when a new notice
	// can come at any moment; and on older rows.
	NextUpdateAt *time.Time `json:"next_update_at,omitempty" db:"next_update_at"`
	Version      int64      `json:"version" db:"version"`
}

// RateColumns lists the latest_rates columns of Rate, in field order, for
// SELECT lists; a NULL rate_date (rows stored before it existed) reads as
// "". Adding a field to Rate means adding its column here.
const RateColumns = `currency_code, currency_name, deal_base_rate, tts, ttb,
	cash_buy, cash_sell, source, recorded_at,
	COALESCE(rate_date, '') AS rate_date, quoted_as, updated_at,
	fetched_at, next_update_at,
	version`

// Day is the bank day of r: RateDate, or the KST day of RecordedAt.
func (r Rate) Day() string {
	if r.RateDate != "" {
		return r.RateDate
	}
	return kst.Day(r.RecordedAt)
}

// UTC returns r with its instants in UTC, as stores return them whatever
// zone the driver scanned them in.
func (r Rate) UTC() Rate {
	r.RecordedAt, r.UpdatedAt = r.RecordedAt.UTC(), r.UpdatedAt.UTC()
	r.FetchedAt, r.NextUpdateAt = utcPtr(r.FetchedAt), utcPtr(r.NextUpdateAt)
	return r
}

// utcPtr is *t in UTC, as a new pointer (nil stays nil).
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ExchangeRateUpdated carries one changed rate, keyed by currency code so
// every update of one currency lands in one partition, in order.
type ExchangeRateUpdated struct {
	Meta
	Rate
}

// DataProcessingCompleted closes a run; it is the last event of the run.
type DataProcessingCompleted struct {
	Meta
	Source           string    `json:"source"`
	TotalProcessed   int       `json:"total_processed"`
	ProcessingTimeMS int64     `json:"processing_time_ms"`
	CompletedAt      time.Time `json:"completed_at"`
}

// CacheInvalidation lists logical cache keys (such as exchange_rate:USD)
// that consumers must drop.
type CacheInvalidation struct {
	Meta
	CacheKeys        []string  `json:"cache_keys"`
	InvalidationType string    `json:"invalidation_type"`
	InvalidatedAt    time.Time `json:"invalidated_at"`
}

// Topic implements Event.
func (*NewDataReceived) Topic() string { return TopicNewDataReceived }

// Topic implements Event.
func (*ExchangeRateUpdated) Topic() string { return TopicExchangeRateUpdated }

// Topic implements Event.
func (*DataProcessingCompleted) Topic() string { return TopicDataProcessingCompleted }

// Topic implements Event.
func (*CacheInvalidation) Topic() string { return TopicCacheInvalidation }

// Key implements Event.
func (e *NewDataReceived) Key() string { return e.Source }

// Key implements Event.
func (e *ExchangeRateUpdated) Key() string { return e.CurrencyCode }

// Key implements Event.
func (e *DataProcessingCompleted) Key() string { return e.Source }

// Key implements Event.
func (e *CacheInvalidation) Key() string { return e.InvalidationType }

func (e *NewDataReceived) meta() *Meta         { return &e.Meta }
func (e *ExchangeRateUpdated) meta() *Meta     { return &e.Meta }
func (e *DataProcessingCompleted) meta() *Meta { return &e.Meta }
func (e *CacheInvalidation) meta() *Meta       { return &e.Meta }

// isCurrencyCode reports whether s is three upper-case ASCII letters, the
// shape of an ISO 4217 code.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func (e *NewDataReceived) validate() error {
	if e.Source == "" || e.DataCount < 0 || e.CollectionTime.IsZero() {
		return errors.New("new_data_received needs source, data_count >= 0 and collection_time")
	}
	return nil
}

func (e *ExchangeRateUpdated) validate() error {
	if !isCurrencyCode(e.CurrencyCode) {
		return fmt.Errorf("currency_code %q is not an ISO 4217 code", e.CurrencyCode)
	}
	if !e.DealBaseRate.IsPositive() {
		return fmt.Errorf("deal_base_rate %s is not positive", e.DealBaseRate)
	}
	if e.TTS != nil && !e.TTS.IsPositive() {
		return fmt.Errorf("tts %s is not positive", e.TTS)
	}
	if e.TTB != nil && !e.TTB.IsPositive() {
		return fmt.Errorf("ttb %s is not positive", e.TTB)
	}
	if e.CashBuy != nil && !e.CashBuy.IsPositive() {
		return fmt.Errorf("cash_buy %s is not positive", e.CashBuy)
	}
	if e.CashSell != nil && !e.CashSell.IsPositive() {
		return fmt.Errorf("cash_sell %s is not positive", e.CashSell)
	}
	if e.SchemaVersion == 1 && (e.CashBuy != nil || e.CashSell != nil) {
		return errors.New("cash_buy and cash_sell appeared in schema_version 2, not 1")
	}
	if e.Source == "" || e.RecordedAt.IsZero() || e.Version < 1 {
		return errors.New("exchange_rate_updated needs source, recorded_at and version >= 1")
	}
	if e.RateDate != "" {
		if _, err := time.Parse(time.DateOnly, e.RateDate); err != nil {
			return fmt.Errorf("rate_date %q is not a YYYY-MM-DD day", e.RateDate)
		}
	}
	if e.QuotedAs != "" && (!isCurrencyCode(e.QuotedAs) || e.QuotedAs == e.CurrencyCode) {
		return fmt.Errorf("quoted_as %q is not another currency code", e.QuotedAs)
	}
	return nil
}

func (e *DataProcessingCompleted) validate() error {
	if e.Source == "" || e.TotalProcessed < 0 || e.CompletedAt.IsZero() {
		return errors.New("data_processing_completed needs source, total_processed >= 0 and completed_at")
	}
	return nil
}

func (e *CacheInvalidation) validate() error {
	if e.InvalidationType == "" || e.InvalidatedAt.IsZero() {
		return errors.New("cache_invalidation needs invalidation_type and invalidated_at")
	}
	return nil
}

// Stamp fills in the envelope of ev: a new event id, its type, the schema
// version and the run's correlation id.
func Stamp(ev Event, correlationID string) {
	m := ev.meta()
	if m.EventID == "" {
		m.EventID = uuid.NewString()
	}
	m.EventType = typeOf(ev)
	m.SchemaVersion = SchemaVersion
	m.CorrelationID = correlationID
}

// MetaOf returns the envelope of ev.
func MetaOf(ev Event) Meta { return *ev.meta() }

func typeOf(ev Event) string {
	switch ev.(type) {
	case *NewDataReceived:
		return TypeNewDataReceived
	case *ExchangeRateUpdated:
		return TypeExchangeRateUpdated
	case *DataProcessingCompleted:
		return TypeDataProcessingCompleted
	case *CacheInvalidation:
		return TypeCacheInvalidation
	}
	return ""
}

// Encode turns a stamped event into the Kafka message that carries it:
// topic, key, JSON value and the headers of DESIGN.md §6 with producer naming the
// service that publishes it.
func Encode(ev Event, producer string) (kafka.Message, error) {
	m := ev.meta()
	if m.EventID == "" || m.EventType != typeOf(ev) || m.SchemaVersion != SchemaVersion {
		return kafka.Message{}, fmt.Errorf("encode %s: event is not stamped", typeOf(ev))
	}
	if err := ev.validate(); err != nil {
		return kafka.Message{}, fmt.Errorf("encode %s: %w", m.EventType, err)
	}
	value, err := json.Marshal(ev)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode %s: %w", m.EventType, err)
	}
	return kafka.Message{
		Topic: ev.Topic(),
		Key:   []byte(ev.Key()),
		Value: value,
		Headers: []kafka.Header{
			{Key: HeaderEventID, Value: []byte(m.EventID)},
			{Key: HeaderEventType, Value: []byte(m.EventType)},
			{Key: HeaderSchemaVersion, Value: []byte(fmt.Sprint(m.SchemaVersion))},
			{Key: HeaderCorrelationID, Value: []byte(m.CorrelationID)},
			{Key: HeaderProducer, Value: []byte(producer)},
			{Key: HeaderContentType, Value: []byte("application/json")},
		},
	}, nil
}

// Decode reads the event a message carries, choosing the payload type by
// the message's topic. Anything that cannot be handled — bad JSON, unknown
// fields' types, a topic/type mismatch, an unknown schema version or a
// payload that breaks the contract — is an error wrapping ErrInvalid.
func Decode(topic string, value []byte) (Event, error) {
	var ev Event
	switch topic {
	case TopicNewDataReceived:
		ev = &NewDataReceived{}
	case TopicExchangeRateUpdated:
		ev = &ExchangeRateUpdated{}
	case TopicDataProcessingCompleted:
		ev = &DataProcessingCompleted{}
	case TopicCacheInvalidation:
		ev = &CacheInvalidation{}
	default:
		return nil, fmt.Errorf("%w: unknown topic %q", ErrInvalid, topic)
	}
	if err := decodeJSON(topic, value, ev); err != nil {
		return nil, err
	}
	m := ev.meta()
	if m.EventType != typeOf(ev) {
		return nil, fmt.Errorf("%w: event_type %q on topic %s", ErrInvalid, m.EventType, topic)
	}
	if m.SchemaVersion < MinSchemaVersion || m.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("%w: unsupported schema_version %d (accepted %d to %d)", ErrInvalid, m.SchemaVersion, MinSchemaVersion, SchemaVersion)
	}
	if _, err := uuid.Parse(m.EventID); err != nil {
		return nil, fmt.Errorf("%w: event_id %q is not a UUID", ErrInvalid, m.EventID)
	}
	if err := ev.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return ev, nil
}

// decodeJSON reads value into ev with the general decoder. segmentio's
// decoder reads what encoding/json reads, about twice as fast.
func decodeJSON(topic string, value []byte, ev Event) error {
	rest, err := json.Parse(value, ev, 0)
	if err != nil {
		return fmt.Errorf("%w: %s payload: %v", ErrInvalid, topic, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: %s payload: trailing data", ErrInvalid, topic)
	}
	return nil
}

// Header returns the value of header key on m, or "".
func Header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// InvalidationExchangeRate is the invalidation_type (and message key) of a
// cache_invalidation that lists rate keys made by RateCacheKey.
const InvalidationExchangeRate = "exchange_rate"

// rateKeyPrefix starts the logical cache key of a currency's rate.
const rateKeyPrefix = "exchange_rate:"

// RateCacheKey is the logical cache key of code's rate, as
// cache_invalidation lists it: exchange_rate:USD. Each consumer maps it to
// its own Redis keys (rate:USD, or every history:* key involving USD).
func RateCacheKey(code string) string { return rateKeyPrefix + code }

// ParseRateCacheKey returns the currency code of a key made by
// RateCacheKey, and false for any other kind of key (a consumer ignores
// keys that are not its cache's).
func ParseRateCacheKey(key string) (string, bool) {
	code, ok := strings.CutPrefix(key, rateKeyPrefix)
	if !ok || !isCurrencyCode(code) {
		return "", false
	}
	return code, true
}
