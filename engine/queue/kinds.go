package queue

import (
	"sync"

	"github.com/riverqueue/river"
)

// kinds are the job kinds every working client registers (see Kind).
var (
	kindsMu sync.Mutex
	kinds   []func(*river.Workers) error
)

// Kind declares a job kind that every working client must know, whether
// or not it works the kind's queue: River's leader — whichever client it
// is — rescues every stuck job, and discards one whose kind it has no
// worker for (River issue 1105), which would turn a job left running by a
// dead process into a dead letter instead of a retry. add registers a
// worker of the kind; a client that does not work the kind's queue never
// runs it. A kind whose jobs may run longer than a leader's own job
// timeout says how long in the job (its worker's Timeout reads it), or
// another stage's leader would take a job still running for stuck. A stage declares its
// kinds from an init function.
func Kind(add func(*river.Workers) error) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	kinds = append(kinds, add)
}

// addKinds registers in workers the declared kinds it lacks: the caller's
// own workers, registered first, stay.
func addKinds(workers *river.Workers) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	for _, add := range kinds {
		// An error is a kind the caller registered itself.
		_ = add(workers)
	}
}
