package tensor

import (
	"runtime"
	"sync/atomic"
	"time"
)

// parallelFor runs f over [0, n) in contiguous chunks of at least minChunk items on up to GOMAXPROCS
// goroutines (the caller's included) and returns when every chunk is done. The range is cut into a
// few chunks per goroutine that the goroutines take in turn, so that one goroutine slowed down by
// other load on the machine does not hold the others up.
func parallelFor(n, minChunk int, f func(lo, hi int)) { parallelForN(n, minChunk, 4, f) }

// parallelForN is parallelFor with up to perWorker chunks per goroutine.
func parallelForN(n, minChunk, perWorker int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if minChunk < 1 {
		minChunk = 1
	}
	workers := runtime.GOMAXPROCS(0)
	if maxW := (n + minChunk - 1) / minChunk; workers > maxW {
		workers = maxW
	}
	if workers <= 1 {
		f(0, n)
		return
	}
	chunks := min(perWorker*workers, (n+minChunk-1)/minChunk)
	fanOut(chunks, workers-1, func(c int) { f(n*c/chunks, n*(c+1)/chunks) })
}

// ParallelFor runs f over [0, n) in contiguous chunks of at least minChunk items on the caller's
// goroutine and the package's helper goroutines (up to GOMAXPROCS in all), and returns when every
// chunk is done. f must be safe to call concurrently on disjoint ranges.
func ParallelFor(n, minChunk int, f func(lo, hi int)) { parallelFor(n, minChunk, f) }

// Helper goroutines.
//
// Starting a goroutine for each parallel region costs little, but waking the idle OS thread that
// runs it does: on the 2-core reference VM the second core joined a region 85-125 µs after it
// began (BenchmarkParallelForShort shows it), so a region shorter than that ran on one core, and every
// longer one lost that much of the second core. A forward pass runs hundreds of regions (a decode
// step of OPT-2.7B about 200, each 0.1-2 ms), one after the other with little serial work between.
// So helpers stay: after finishing a region a helper polls for the next one for helperSpin (with
// runtime.Gosched, so any other goroutine that needs the P gets it) before it blocks, and exits
// after helperIdle without work, leaving no goroutine behind in an idle process. The caller of a
// region always works on it too and never waits for a helper that has not started: a region whose
// helpers are all busy, or asleep, still runs (on fewer cores).

const (
	helperSpin = 2 * time.Millisecond
	helperIdle = 100 * time.Millisecond
)

// region is one parallel region: chunks [0, chunks) of body, taken in turn by whoever runs it.
type region struct {
	body   func(c int)
	chunks int64
	next   atomic.Int64  // next chunk to take
	done   atomic.Int64  // chunks finished
	fin    chan struct{} // closed when done reaches chunks
	failed atomic.Pointer[helperPanic]
}

// helperPanic is a panic raised by a chunk on a helper goroutine, re-raised on the region's caller
// (where the models' recover turns a kernel bug into an error instead of a crash).
type helperPanic struct{ value any }

// runHelper is run on a helper goroutine: a panicking chunk counts as done (so the caller's wait
// ends) and its value is kept for the caller.
func (r *region) runHelper() {
	defer func() {
		if p := recover(); p != nil {
			r.failed.CompareAndSwap(nil, &helperPanic{p})
			if r.done.Add(1) == r.chunks {
				close(r.fin)
			}
		}
	}()
	r.run()
}

// run takes chunks until none is left.
func (r *region) run() {
	for {
		c := r.next.Add(1) - 1
		if c >= r.chunks {
			return
		}
		r.body(int(c))
		if r.done.Add(1) == r.chunks {
			close(r.fin)
		}
	}
}

// helperPool hands regions to helper goroutines. It holds no settings and nothing a caller can
// observe: only how many helpers are alive.
type helperPool struct {
	regions chan *region
	live    atomic.Int32
}

var helpers = &helperPool{regions: make(chan *region, 256)}

// fanOut runs body(c) for every c in [0, chunks) on the caller and on up to extra helpers, and
// returns when all chunks are done.
func fanOut(chunks, extra int, body func(c int)) {
	if chunks <= 0 {
		return
	}
	extra = min(extra, chunks-1)
	if extra <= 0 {
		for c := range chunks {
			body(c)
		}
		return
	}
	r := &region{body: body, chunks: int64(chunks), fin: make(chan struct{})}
	helpers.post(r, extra)
	r.run()
	// the chunks still running are in helpers that are working on them right now: wait for them
	// without parking (a parked caller costs the same wake-up as a parked helper)
	deadline := time.Now().Add(helperSpin)
	for i := 0; r.done.Load() < r.chunks; i++ {
		if i&63 == 63 && time.Now().After(deadline) {
			<-r.fin
			break
		}
		runtime.Gosched()
	}
	if p := r.failed.Load(); p != nil {
		panic(p.value)
	}
}

// post offers r to extra helpers, starting helpers until that many are alive.
func (p *helperPool) post(r *region, extra int) {
	for {
		n := p.live.Load()
		if int(n) >= extra {
			break
		}
		if p.live.CompareAndSwap(n, n+1) {
			go p.helper()
		}
	}
	for range extra {
		select {
		case p.regions <- r:
		default:
			return // every slot is taken: the caller and the helpers at work will do it
		}
	}
}

// helper runs regions as they come, polling for helperSpin after each before it blocks, and exits
// after helperIdle without one.
func (p *helperPool) helper() {
	var idle *time.Timer
	for {
		r := p.poll()
		if r == nil {
			if idle == nil {
				idle = time.NewTimer(helperIdle)
			} else {
				idle.Reset(helperIdle)
			}
			select {
			case r = <-p.regions:
				idle.Stop()
			case <-idle.C:
				p.live.Add(-1)
				// a region posted between the timeout and the decrement may be waiting for a
				// helper that counted this one: take it (its caller runs it anyway)
				select {
				case r = <-p.regions:
					p.live.Add(1)
				default:
					return
				}
			}
		}
		r.runHelper()
	}
}

// poll waits up to helperSpin for a region, yielding the P between looks; nil if none came.
func (p *helperPool) poll() *region {
	var deadline time.Time
	for i := 0; ; i++ {
		select {
		case r := <-p.regions:
			return r
		default:
		}
		if i&63 == 0 {
			now := time.Now()
			if i == 0 {
				deadline = now.Add(helperSpin)
			} else if now.After(deadline) {
				return nil
			}
		}
		runtime.Gosched()
	}
}
