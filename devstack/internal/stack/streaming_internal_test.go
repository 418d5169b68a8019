package stack

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// deadlineRecorder is a response writer that records the write deadlines
// set through http.ResponseController.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	deadlines []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.deadlines = append(d.deadlines, t)
	return nil
}

// An event stream passing through the gateway moves its write deadline on
// with every write, so the server's WriteTimeout does not cut it; any other
// answer keeps the server's deadline.
func TestKeepStreaming(t *testing.T) {
	for _, tc := range []struct {
		contentType string
		want        int
	}{
		{"text/event-stream; charset=utf-8", 3},
		{"application/json; charset=utf-8", 0},
	} {
		rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		h := keepStreaming(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", tc.contentType)
			w.WriteHeader(http.StatusOK)
			for range 3 {
				_, _ = w.Write([]byte("data: x\n\n"))
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("flush through the gateway's writer: %v", err)
				}
			}
		}))
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/currencies/stream", nil))
		if len(rec.deadlines) != tc.want {
			t.Errorf("%s: %d write deadlines set, want %d", tc.contentType, len(rec.deadlines), tc.want)
		}
		if !rec.Flushed || rec.Body.Len() != 27 {
			t.Errorf("%s: flushed %v, body %q", tc.contentType, rec.Flushed, rec.Body.String())
		}
	}
}
