package crdt

import "testing"

// BenchmarkLoadMergedTyping loads what a relaying server stores after a
// client typed n characters one by one: the keystrokes' updates merged
// (MergeUpdates keeps one struct per keystroke). Loading joins them into
// one item again; done from the right, that copied the text gathered so
// far at every step.
func BenchmarkLoadMergedTyping(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		d := NewDoc(Options{ClientID: 3})
		var ups [][]byte
		d.OnUpdate(func(u []byte) { ups = append(ups, u) })
		for i := 0; i < n; i++ {
			if err := d.Text("t").Insert(i, "x", nil); err != nil {
				b.Fatal(err)
			}
		}
		merged, err := MergeUpdates(ups)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(map[int]string{2000: "2k", 20000: "20k"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := NewDoc(Options{}).ApplyUpdate(merged); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
