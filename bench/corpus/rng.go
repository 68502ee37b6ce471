package corpus

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
)

// Every random choice in this package comes from a stream derived here. Streams are keyed by
// (seed, domain, index) through SHA-256, so a file's content depends on its own key only: files
// can be written in any order and in parallel, and adding a new kind of draw never shifts the
// bytes of an existing one.
//
// Only two things from math/rand/v2 are used: the PCG and ChaCha8 generators themselves, which
// are specified algorithms. Rand's methods (IntN, Shuffle, Float64, ...) are not used because
// their algorithms are not promised across Go releases; bounded integers are derived below with
// integer arithmetic only. No floating-point value ever reaches an output, because Go may fuse
// a*b+c into one instruction on some architectures and so round differently on arm64 than on
// amd64.

// key derives 32 bytes for the stream (seed, domain, index).
func key(seed int64, domain string, index uint64) [32]byte {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint64(b[8:], index)
	h := sha256.New()
	h.Write([]byte("coffer-bench-corpus\x00"))
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write(b[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// rng is a PCG stream with integer-only helpers.
type rng struct {
	src *rand.PCG
}

func newRNG(seed int64, domain string, index uint64) *rng {
	k := key(seed, domain, index)
	return &rng{src: rand.NewPCG(binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:16]))}
}

// newBytes returns a ChaCha8 stream for bulk random bytes. Only its Read method may be used:
// interleaving Read and Uint64 has an unspecified order.
func newBytes(seed int64, domain string, index uint64) *rand.ChaCha8 {
	return rand.NewChaCha8(key(seed, domain, index))
}

func (r *rng) u64() uint64 { return r.src.Uint64() }

// intn returns a value in [0, n) for n > 0 (Lemire's multiply-shift, without the rejection step:
// the bias is below n/2^64, which no benchmark can observe).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// int64n returns a value in [0, n) for n > 0.
func (r *rng) int64n(n int64) int64 {
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int64(hi)
}

// between returns a value in [lo, hi]; lo if hi <= lo.
func (r *rng) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.int64n(hi-lo+1)
}

// chance reports true with probability ppm/1e6.
func (r *rng) chance(ppm int64) bool { return r.int64n(million) < ppm }

const million = 1_000_000

// ppm converts a fraction to parts per million. The explicit conversion rounds the product
// before anything else happens to it, so no architecture can fuse it with the rounding step.
func ppm(f float64) int64 {
	if f <= 0 {
		return 0
	}
	if f >= 1 {
		return million
	}
	return int64(math.Round(float64(f * million)))
}

// logUniform returns a size in [lo, hi) whose binary order of magnitude is uniform: small values
// are as common per octave as large ones, as file sizes are on real disks. Integer only.
func (r *rng) logUniform(lo, hi int64) int64 {
	if hi <= lo+1 {
		return lo
	}
	elo, ehi := bits.Len64(uint64(lo)), bits.Len64(uint64(hi-1))
	for {
		e := elo + r.intn(ehi-elo+1)
		a, b := int64(1)<<(e-1), int64(1)<<e
		a, b = max(a, lo), min(b, hi)
		if a < b {
			return a + r.int64n(b-a)
		}
	}
}

// words is a fixed vocabulary of pronounceable pseudo-words, and zipf maps a 16-bit draw to a
// word index with Zipf-like frequencies (rank r weighs about 1/(r+2)), so generated text has the
// skew, and therefore the compressibility, of natural language. Both are built from a constant
// seed: they are part of the format, not of a Spec.
var (
	words = buildWords(2048)
	zipf  = buildZipf(len(words), 1<<16)
)

func buildWords(n int) []string {
	const (
		onsets = "b c d f g h j k l m n p r s t v w z br ch cl dr fl gr kr pl pr sh st th tr"
		vowels = "a e i o u a e i o ai ea ou"
		codas  = "n r s t l m x nd st rk"
	)
	on, vo, co := strings.Fields(onsets), strings.Fields(vowels), strings.Fields(codas)
	r := newRNG(0, "vocabulary", 0)
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		syl := 1 + r.intn(3)
		var w []byte
		for range syl {
			w = append(w, on[r.intn(len(on))]...)
			w = append(w, vo[r.intn(len(vo))]...)
		}
		if r.intn(3) == 0 {
			w = append(w, co[r.intn(len(co))]...)
		}
		if s := string(w); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func buildZipf(n, size int) []uint16 {
	var harmonic int64 // sum of 1/(r+2), scaled by 1e6
	for r := range n {
		harmonic += million / int64(r+2)
	}
	t := make([]uint16, 0, size)
	for r := 0; r < n && len(t) < size; r++ {
		c := max(1, int64(size)*(million/int64(r+2))/harmonic)
		for i := int64(0); i < c && len(t) < size; i++ {
			t = append(t, uint16(r))
		}
	}
	for r := 0; len(t) < size; r = (r + 1) % n {
		t = append(t, uint16(r))
	}
	return t
}

// wordSource draws Zipf-distributed words, four per 64-bit draw.
type wordSource struct {
	r    *rng
	bits uint64
	n    int
}

func (w *wordSource) word() string {
	if w.n == 0 {
		w.bits, w.n = w.r.u64(), 4
	}
	i := zipf[w.bits&0xffff]
	w.bits >>= 16
	w.n--
	return words[i]
}
