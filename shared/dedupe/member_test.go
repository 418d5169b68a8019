package dedupe

import (
	"testing"

	"github.com/google/uuid"
)

// A canonical UUID is stored as "u" and its 16 bytes; every other id as
// "s" and its text, so no two ids share a member.
func TestMember(t *testing.T) {
	for range 100 {
		u := uuid.New()
		if got, want := member(u.String()), "u"+string(u[:]); got != want {
			t.Fatalf("member(%s) = %x, want %x", u, got, want)
		}
	}
	for _, id := range []string{"", "x", "3F2B8C1E-9A4D-4E6F-8B1A-2C3D4E5F6A7B", "3f2b8c1e09a4d-4e6f-8b1a-2c3d4e5f6a7b",
		"3f2b8c1e-9a4d-4e6f-8b1a-2c3d4e5f6a7g", "3f2b8c1e-9a4d-4e6f-8b1a-2c3d4e5f6a7"} {
		if got := member(id); got != "s"+id {
			t.Errorf("member(%q) = %q, want the text behind an s", id, got)
		}
	}
}
