package httpx

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/apperr"
)

// Envelope is the body of every JSON response (DESIGN.md §8). Data is kept as
// raw JSON so that clients and tests can decode it into their own types.
type Envelope struct {
	// Success is true for 2xx responses.
	Success bool `json:"success"`
	// Data is the payload of a successful response.
	Data json.RawMessage `json:"data,omitempty"`
	// Error is set when Success is false.
	Error *ErrorBody `json:"error,omitempty"`
	// Timestamp is when the response was made, RFC 3339 UTC with milliseconds.
	Timestamp string `json:"timestamp"`
}

// ErrorBody is the error part of an Envelope; Code is the stable contract,
// Message is for humans, Details is omitted when empty.
type ErrorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Codes for failures raised by the plumbing itself rather than by apperr.
const (
	CodePayloadTooLarge  = "PAYLOAD_TOO_LARGE"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
)

const (
	timestampLayout = "2006-01-02T15:04:05.000Z07:00"
	contentTypeJSON = "application/json; charset=utf-8"
	msgInternal     = "internal server error"
	msgUnavailable  = "service temporarily unavailable"
)

// Timestamp is the envelope timestamp of a response made now: the
// engine's clock (Options.Now) in UTC with milliseconds, or time.Now
// outside NewEngine. Handlers that write the envelope themselves use it.
func Timestamp(c *gin.Context) string {
	return clockOf(c)().UTC().Format(timestampLayout)
}

// OK writes data in the success envelope with the given status.
func OK(c *gin.Context, status int, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		Error(c, apperr.Internal(err))
		return
	}
	writeSuccess(c, status, raw)
}

// writeSuccess writes the success envelope around data that is already
// compact JSON, by appending bytes: marshalling an Envelope would validate
// and copy a large cached answer once more.
func writeSuccess(c *gin.Context, status int, raw []byte) {
	body := make([]byte, 0, len(raw)+len(timestampLayout)+48)
	body = append(body, `{"success":true,"data":`...)
	body = append(body, raw...)
	body = append(body, `,"timestamp":"`...)
	body = clockOf(c)().UTC().AppendFormat(body, timestampLayout)
	body = append(body, `"}`...)
	h := c.Writer.Header()
	h["Content-Type"] = hdrJSON[:1:1]
	// A declared length: net/http would otherwise send an answer over
	// 2 KiB chunked, and a proxy in front (devstack's gateway) flushes a
	// response of unknown length write by write.
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.Status(status)
	_, _ = c.Writer.Write(body)
}

// hdrJSON is the Content-Type of every envelope, shared (see edgeWriter's
// shared values).
var hdrJSON = []string{contentTypeJSON}

// cacheControls keeps the Cache-Control value of each max-age used, so a
// cached answer does not format it per request.
var cacheControls sync.Map // time.Duration -> []string

func cacheControl(maxAge time.Duration) []string {
	if v, ok := cacheControls.Load(maxAge); ok {
		return v.([]string)
	}
	v, _ := cacheControls.LoadOrStore(maxAge, []string{"public, max-age=" + strconv.Itoa(int(maxAge/time.Second))})
	return v.([]string)
}

func writeError(c *gin.Context, status int, body ErrorBody) {
	// An error is about this request only: no cache may keep it, whatever
	// a handler set before it failed.
	c.Header("Cache-Control", "no-store")
	writeEnvelope(c, status, Envelope{Error: &body, Timestamp: Timestamp(c)})
	c.Abort()
}

func writeEnvelope(c *gin.Context, status int, env Envelope) {
	b, err := json.Marshal(env)
	if err != nil {
		// Only un-marshalable error details can get here; drop them rather
		// than fail the response.
		Logger(c).Error("marshal response envelope", "err", err)
		if env.Error != nil {
			env.Error.Details = nil
		}
		env.Data = nil
		b, _ = json.Marshal(env)
	}
	c.Data(status, contentTypeJSON, b)
}

// ETagOf returns the strong ETag (quoted) of a response payload: the hex of
// the first 16 bytes of its SHA-256.
func ETagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// Cached writes data for a read endpoint with a strong ETag and
// "Cache-Control: public, max-age=N", answering 304 without a body when
// If-None-Match matches. The ETag covers the data only, not the envelope,
// whose timestamp changes on every response.
func Cached(c *gin.Context, data any, maxAge time.Duration) {
	raw, err := json.Marshal(data)
	if err != nil {
		Error(c, apperr.Internal(err))
		return
	}
	CachedJSON(c, raw, "", maxAge)
}

// CachedJSON is Cached for data that is already compact JSON, such as an
// answer read from Redis: it is served as it is, without a decode and
// re-encode. etag is the data's ETagOf when the caller keeps it beside the
// data; "" computes it.
func CachedJSON(c *gin.Context, raw []byte, etag string, maxAge time.Duration) {
	if etag == "" {
		etag = ETagOf(raw)
	}
	h := c.Writer.Header()
	h["Etag"] = []string{etag}
	h["Cache-Control"] = cacheControl(maxAge)[:1:1]
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	writeSuccess(c, http.StatusOK, raw)
}

// etagMatches applies the weak comparison RFC 9110 prescribes for
// If-None-Match to a comma-separated list of tags or "*".
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || (tag != "" && strings.TrimPrefix(tag, "W/") == etag) {
			return true
		}
	}
	return false
}

// Error writes err as an error envelope and aborts the chain. The status
// comes from apperr.HTTPStatus; an error that is not an *apperr.Error is
// internal. Internal and unavailable errors are logged here, once, with the
// request id, and the client gets a generic message: causes never leak.
// Under NewEngine those logs are rate-limited per route and kind (see
// ErrorLogWindow) and their text bounded (MaxLogText).
func Error(c *gin.Context, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(c, http.StatusRequestEntityTooLarge, ErrorBody{
			Code:    CodePayloadTooLarge,
			Message: "request body exceeds " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes",
		})
		return
	}

	e, ok := apperr.As(err)
	if !ok {
		e = apperr.Internal(err)
	}
	status := apperr.HTTPStatus(e.Kind)
	body := ErrorBody{Code: e.Code, Message: e.Message, Details: e.Details}

	switch e.Kind {
	case apperr.KindInternal:
		logFailure(c, "request failed", e.Kind, err, status)
		body = ErrorBody{Code: apperr.CodeInternal, Message: msgInternal}
	case apperr.KindUnavailable:
		logFailure(c, "dependency unavailable", e.Kind, err, status)
		body = ErrorBody{Code: orDefault(e.Code, apperr.CodeUnavailable), Message: msgUnavailable}
	case apperr.KindRateLimited:
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		c.Header("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	case apperr.KindUnauthorized:
		c.Header("WWW-Authenticate", "Bearer")
	}
	body.Code = orDefault(body.Code, defaultCode(e.Kind))

	if c.Writer.Written() {
		// A handler that already started its response cannot change it;
		// keep the failure visible in the logs at least.
		Logger(c).Error("error after response was written", "err", boundText(err.Error()))
		c.Abort()
		return
	}
	writeError(c, status, body)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func defaultCode(k apperr.Kind) string {
	switch k {
	case apperr.KindInvalid:
		return apperr.CodeInvalidParameter
	case apperr.KindNotFound:
		return apperr.CodeNotFound
	case apperr.KindConflict:
		return "CONFLICT"
	case apperr.KindUnavailable:
		return apperr.CodeUnavailable
	case apperr.KindUnauthorized:
		return apperr.CodeUnauthorized
	case apperr.KindForbidden:
		return apperr.CodeForbidden
	case apperr.KindRateLimited:
		return apperr.CodeRateLimited
	case apperr.KindUnprocessable:
		return "UNPROCESSABLE"
	default:
		return apperr.CodeInternal
	}
}
