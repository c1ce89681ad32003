package storage_test

import (
	"path/filepath"
	"testing"

	"github.com/quirehq/quire/storage"
	"github.com/quirehq/quire/storage/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return storage.NewMemory() })
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, err := storage.OpenBolt(filepath.Join(t.TempDir(), "quire.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNeedsCompaction(t *testing.T) {
	const KiB, MiB = 1 << 10, 1 << 20
	tests := []struct {
		name string
		m    storage.Meta
		p    storage.Policy
		want bool
	}{
		{"empty log", storage.Meta{}, storage.Policy{}, false},
		{"young document", storage.Meta{LogCount: 10, LogBytes: 2 * KiB}, storage.Policy{}, false},
		{"count reached", storage.Meta{LogCount: 500, LogBytes: 10 * KiB, SnapshotBytes: MiB}, storage.Policy{}, true},
		{"count below", storage.Meta{LogCount: 499, LogBytes: 10 * KiB, SnapshotBytes: MiB}, storage.Policy{}, false},
		{"bytes reached", storage.Meta{LogCount: 3, LogBytes: MiB, SnapshotBytes: 10 * MiB}, storage.Policy{}, true},
		{"log outgrew snapshot", storage.Meta{LogCount: 20, LogBytes: 100 * KiB, SnapshotBytes: 99 * KiB}, storage.Policy{}, true},
		{"log smaller than snapshot", storage.Meta{LogCount: 20, LogBytes: 100 * KiB, SnapshotBytes: 101 * KiB}, storage.Policy{}, false},
		{"outgrew but under floor", storage.Meta{LogCount: 20, LogBytes: 60 * KiB}, storage.Policy{}, false},
		{"custom count", storage.Meta{LogCount: 10, LogBytes: 10}, storage.Policy{MaxLogCount: 10}, true},
		{"custom bytes", storage.Meta{LogCount: 1, LogBytes: 100, SnapshotBytes: MiB}, storage.Policy{MaxLogBytes: 100}, true},
		{"custom floor", storage.Meta{LogCount: 1, LogBytes: 100}, storage.Policy{MinLogBytes: 100}, true},
	}
	for _, tc := range tests {
		if got := storage.NeedsCompaction(tc.m, tc.p); got != tc.want {
			t.Errorf("%s: NeedsCompaction(%+v, %+v) = %v, want %v", tc.name, tc.m, tc.p, got, tc.want)
		}
	}
}
