package pg

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkUpdate is one read-modify-write of a small record, what a
// replica pays per call of a rate-limited tool (the user's bucket), per
// session admitted (its owner's index) and per task state change: the
// cost of holding those across replicas.
//
//	DATABASE_URL=... go test -run '^$' -bench Update ./pg/
func BenchmarkUpdate(b *testing.B) {
	s, err := Open(context.Background(), freshSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		err := s.Update(ctx, "bench", "user-1", func(cur []byte) ([]byte, time.Time, error) {
			return strconv.AppendInt(nil, int64(i), 10), time.Now().Add(time.Minute), nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
