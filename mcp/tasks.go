package mcp

// The tasks extension, io.modelcontextprotocol/tasks (SEP-2663; the
// ext-tasks repository's specification/draft/tasks.md), in the 2026-07-28
// era: a tools/call the server decides to run asynchronously answers with a
// CreateTaskResult (resultType "task"), and the client polls tasks/get,
// answers the task's input requests with tasks/update and may send
// tasks/cancel. The legacy revisions' experimental tasks (2025-11-25
// basic/utilities/tasks) are not served: a legacy call runs synchronously.
//
// A task belongs to the owner of the request that created it
// (HTTPOptions.SessionOwner): another owner's tasks/get of the same id is
// answered exactly as an id that never existed. Each owner holds at most
// TaskOptions.MaxPerOwner live tasks, and a task is forgotten once its
// ttlMs has passed. The state lives in a TaskStore; the work itself (and
// the waiting for input) runs in the process that created the task. With a
// TaskStore shared by several processes (TaskOptions.Relay set too), any of
// them answers tasks/get; tasks/cancel and tasks/update received by
// another process than the one running the task are relayed to it.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"remote-mcp-authkit/internal/jsonscan"
)

// TasksExtension is the identifier of the tasks extension, as declared in
// server/discover capabilities.extensions and in a client's per-request
// capabilities.
const TasksExtension = "io.modelcontextprotocol/tasks"

// Task support of a tool (ToolExecution.TaskSupport; the values of
// 2025-11-25 schema.ts ToolExecution.taskSupport).
const (
	// TaskForbidden (or "") runs every call synchronously.
	TaskForbidden = "forbidden"
	// TaskOptional runs a call as a task when the client declared the
	// tasks extension on the request, synchronously otherwise.
	TaskOptional = "optional"
	// TaskRequired runs every call as a task; a modern client that did not
	// declare the extension gets -32021 naming it.
	TaskRequired = "required"
)

// ToolExecution says how a tool may be run (schema: ToolExecution).
type ToolExecution struct {
	TaskSupport string `json:"taskSupport,omitempty"`
}

// TaskSupporter is implemented by a ToolSet whose tools may run as tasks:
// TaskSupport returns TaskForbidden, TaskOptional or TaskRequired for the
// named tool (what its tools/list entry says in execution.taskSupport), as
// the caller in ctx may call it: a tool the caller may not call is
// TaskForbidden, so that CallTool refuses it at once rather than in a task.
// It may narrow what the entry says (TaskForbidden for a tool listed
// optional whose handler decides, with ContinueAsTask) but never widen it:
// a modern tools/call of a tool the caller sees listed without task
// support runs synchronously without asking (the server looks the tool up
// once per call, for its Mcp-Param-* headers). The server asks it on the
// other modern tools/calls, so it must be cheap.
type TaskSupporter interface {
	TaskSupport(ctx context.Context, name string) string
}

// TaskStatus is a task's state (tasks.md, "Task Status"); completed,
// failed and cancelled are terminal.
type TaskStatus string

// The task statuses.
const (
	TaskWorking       TaskStatus = "working"
	TaskInputRequired TaskStatus = "input_required"
	TaskCompleted     TaskStatus = "completed"
	TaskFailed        TaskStatus = "failed"
	TaskCancelled     TaskStatus = "cancelled"
)

// Terminal reports whether no further change will happen.
func (st TaskStatus) Terminal() bool {
	return st == TaskCompleted || st == TaskFailed || st == TaskCancelled
}

// Task is the stored state of one task: what tasks/get reports.
type Task struct {
	ID    string
	Owner string
	// Tool names what runs, for diagnostics.
	Tool          string
	Status        TaskStatus
	StatusMessage string
	CreatedAt     time.Time
	LastUpdatedAt time.Time
	// TTL counts from CreatedAt; past it the task is forgotten.
	TTL          time.Duration
	PollInterval time.Duration
	// Result is the CallToolResult of a completed task, Error the JSON-RPC
	// error of a failed one.
	Result json.RawMessage
	Error  *JSONRPCError
	// InputRequests are the outstanding requests of an input_required
	// task, by key: each {"method": ..., "params": ...}.
	InputRequests map[string]json.RawMessage
	// LeaseUntil, for a task in a store shared by processes, is when the
	// process running it stops vouching for it unless it renews the lease
	// (lease.go): past it, a task not yet terminal is one whose process
	// died. Zero: not leased (a store of one process).
	LeaseUntil time.Time `json:",omitzero"`
}

// expired reports whether t's TTL has passed at now.
func (t *Task) expired(now time.Time) bool { return now.Sub(t.CreatedAt) >= t.TTL }

// clone copies t deeply enough that the copy can be changed.
func (t *Task) clone() *Task {
	c := *t
	if t.InputRequests != nil {
		c.InputRequests = make(map[string]json.RawMessage, len(t.InputRequests))
		for k, v := range t.InputRequests {
			c.InputRequests[k] = v
		}
	}
	return &c
}

// ErrTaskNotFound is returned by a TaskStore for an id that does not
// exist, has expired, or belongs to another owner; the three are one
// answer, so that an id reveals nothing to whoever did not create it.
var ErrTaskNotFound = errors.New("mcp: task not found")

// ErrTooManyTasks is returned by TaskStore.Create when the owner already
// holds the most live tasks allowed.
var ErrTooManyTasks = errors.New("mcp: too many live tasks for this owner")

// TaskStore holds the state of tasks. The contract, for any implementation
// (the in-process MemoryTaskStore, or a shared store so that any server
// process can answer tasks/get):
//
//   - Create stores t (its ID is fresh and unguessable, chosen by the
//     caller) unless t.Owner already holds maxPerOwner tasks that have not
//     expired, in which case it returns ErrTooManyTasks. Once Create
//     returns, Get of the ID must find it (tasks.md, "Task Creation": the
//     task is durably created before CreateTaskResult is sent).
//   - Get returns a copy of the task with id if owner created it and its
//     TTL has not passed; otherwise ErrTaskNotFound.
//   - Update applies fn to the stored task atomically with respect to other
//     Updates of the same task and returns a copy of the result; it fails
//     like Get. fn must not block, and may be called more than once, each
//     time on a fresh copy (a shared store may retry), so it must change
//     nothing but the task it is given.
//
// All methods may be called concurrently. An expired task may be deleted at
// any time after its TTL.
type TaskStore interface {
	Create(ctx context.Context, t *Task, maxPerOwner int) error
	Get(ctx context.Context, owner, id string) (*Task, error)
	Update(ctx context.Context, owner, id string, fn func(*Task)) (*Task, error)
}

// MemoryTaskStore is a TaskStore in the process's memory: tasks last as
// long as their TTL or the process.
type MemoryTaskStore struct {
	mu        sync.Mutex
	tasks     map[string]*Task
	byOwner   map[string]map[string]struct{} // task ids by owner, so that Create counts one owner's only
	lastSweep time.Time
	now       func() time.Time // for tests
}

var _ TaskStore = (*MemoryTaskStore)(nil)

// NewMemoryTaskStore returns an empty in-process store.
func NewMemoryTaskStore() *MemoryTaskStore {
	return &MemoryTaskStore{tasks: make(map[string]*Task), byOwner: make(map[string]map[string]struct{}), now: time.Now}
}

// sweep deletes every expired task, at most once a second, so that tasks
// nobody polls again do not accumulate. Called with mu held.
func (m *MemoryTaskStore) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < time.Second {
		return
	}
	m.lastSweep = now
	for id, t := range m.tasks {
		if t.expired(now) {
			m.remove(id)
		}
	}
}

// remove forgets task id, with mu held.
func (m *MemoryTaskStore) remove(id string) {
	t := m.tasks[id]
	if t == nil {
		return
	}
	delete(m.tasks, id)
	if mine := m.byOwner[t.Owner]; mine != nil {
		delete(mine, id)
		if len(mine) == 0 {
			delete(m.byOwner, t.Owner)
		}
	}
}

// Create implements TaskStore.
func (m *MemoryTaskStore) Create(_ context.Context, t *Task, maxPerOwner int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	mine := m.byOwner[t.Owner]
	n := 0
	for id := range mine {
		if m.tasks[id].expired(now) {
			m.remove(id)
		} else {
			n++
		}
	}
	if n >= maxPerOwner {
		return ErrTooManyTasks
	}
	if _, taken := m.tasks[t.ID]; taken {
		return errors.New("mcp: task id already in use")
	}
	m.tasks[t.ID] = t.clone()
	if mine = m.byOwner[t.Owner]; mine == nil {
		mine = make(map[string]struct{})
		m.byOwner[t.Owner] = mine
	}
	mine[t.ID] = struct{}{}
	return nil
}

// find returns the live task id of owner, with mu held.
func (m *MemoryTaskStore) find(owner, id string) (*Task, error) {
	t := m.tasks[id]
	if t == nil || t.Owner != owner {
		return nil, ErrTaskNotFound
	}
	if t.expired(m.now()) {
		m.remove(id)
		return nil, ErrTaskNotFound
	}
	return t, nil
}

// Get implements TaskStore.
func (m *MemoryTaskStore) Get(_ context.Context, owner, id string) (*Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.find(owner, id)
	if err != nil {
		return nil, err
	}
	return t.clone(), nil
}

// Update implements TaskStore.
func (m *MemoryTaskStore) Update(_ context.Context, owner, id string, fn func(*Task)) (*Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.find(owner, id)
	if err != nil {
		return nil, err
	}
	fn(t)
	return t.clone(), nil
}

// TaskOptions turn on the tasks extension (ServerOptions.Tasks).
type TaskOptions struct {
	// Store holds the tasks; nil means a new MemoryTaskStore.
	Store TaskStore
	// TTL is how long a task stays readable after it is created
	// (CreateTaskResult ttlMs); 0 means 10 minutes. Work still running
	// at the TTL is cancelled.
	TTL time.Duration
	// PollInterval is the pollIntervalMs suggested to clients; 0 means 1 s.
	PollInterval time.Duration
	// MaxPerOwner bounds one owner's live tasks; 0 means 16. Past it an
	// optional tool runs synchronously (the server decides whether to
	// create a task) and a required one is refused.
	MaxPerOwner int
	// Relay, with a Store shared between processes, carries tasks/cancel
	// and the answers of tasks/update to the process running the task,
	// when another process receives them: Send(ctx, taskID, msg) must
	// deliver msg to Server.DeliverTaskMessage of every other process (the
	// one running the task takes it, the others drop it). Nil: tasks run
	// and are cancelled in this process only.
	Relay Relay
}

// taskRunner runs the tasks this process created.
type taskRunner struct {
	s     *Server
	store TaskStore
	relay Relay
	ttl   time.Duration
	poll  time.Duration
	max   int

	mu   sync.Mutex
	runs map[string]*taskRun // by task id
}

// taskRun is the in-process half of a running task: how to stop it, and
// who waits for which input.
type taskRun struct {
	id, owner string
	tool      string
	cred      string          // the creating request's credential (credential.go)
	caps      json.RawMessage // the creating request's client capabilities
	cancel    context.CancelFunc
	r         *taskRunner

	mu      sync.Mutex
	next    int
	waiters map[string]chan json.RawMessage
}

func newTaskRunner(s *Server, o *TaskOptions) *taskRunner {
	r := &taskRunner{s: s, store: o.Store, relay: o.Relay, ttl: o.TTL, poll: o.PollInterval, max: o.MaxPerOwner, runs: make(map[string]*taskRun)}
	if r.store == nil {
		r.store = NewMemoryTaskStore()
	}
	if r.ttl <= 0 {
		r.ttl = 10 * time.Minute
	}
	if r.poll <= 0 {
		r.poll = time.Second
	}
	if r.max <= 0 {
		r.max = 16
	}
	return r
}

// ownerOf names the principal of the request ctx belongs to.
func ownerOf(ctx context.Context) string {
	rs := requestFromContext(ctx)
	switch {
	case rs == nil:
		return ""
	case rs.sess != nil:
		return rs.sess.owner
	}
	return rs.owner
}

// clientDeclaresExtension reports whether the request's client
// capabilities carry extensions[id] as an object (2026-07-28
// basic/versioning, "Extension Negotiation").
func clientDeclaresExtension(caps json.RawMessage, id string) bool {
	for name, v := range jsonscan.Members(caps) {
		if jsonscan.Equal(name, "extensions") && jsonscan.KindOf(v) == jsonscan.Object {
			for name, v := range jsonscan.Members(v) {
				if jsonscan.Equal(name, id) && jsonscan.KindOf(v) == jsonscan.Object {
					return true
				}
			}
		}
	}
	return false
}

// missingTasksExtension is the -32021 of a request that needs the client
// to have declared the tasks extension (tasks.md, "Capability
// Negotiation").
func missingTasksExtension() *JSONRPCError {
	return NewMissingRequiredClientCapability(map[string]any{"extensions": map[string]any{TasksExtension: struct{}{}}})
}

// ContinueAsTask is returned by a tool handler, in the 2026-07-28 era, to
// finish its call as a task once it has what it needs: input gathered
// through InputRequired rounds first, as tasks.md ("Task Creation") says
// such rounds should be resolved before the task is created. The server
// answers a CreateTaskResult and runs Run in the background, in the task's
// context. A client that did not declare the tasks extension gets -32021
// naming it; outside the modern era, or with no ServerOptions.Tasks, Run
// runs at once.
type ContinueAsTask struct {
	Run func(ctx context.Context) (*CallToolResult, error)
}

// Error says what the handler asked for, should the error escape.
func (*ContinueAsTask) Error() string { return "mcp: continue the call as a task" }

// continueAsTask answers a handler's ContinueAsTask.
func (s *Server) continueAsTask(ctx context.Context, name string, c *ContinueAsTask) (any, error) {
	if s.tasks == nil || EraOf(ctx) != EraModern {
		return s.toolOutcome(ctx, name, c.Run)
	}
	if !clientDeclaresExtension(ClientCapabilitiesFromContext(ctx), TasksExtension) {
		return nil, missingTasksExtension()
	}
	return s.tasks.start(ctx, name, func(ctx context.Context) (*CallToolResult, error) { return s.toolOutcome(ctx, name, c.Run) }, true)
}

// taskDecision says how callTool runs a modern call: synchronously, as a
// task (run; required when the tool runs no other way), or not at all (an
// error). A tool whose tools/list entry, as the call's header check found
// it (p's listing), has no task support runs synchronously without asking
// TaskSupport, which may narrow what the entry says but never widen it.
func (s *Server) taskDecision(ctx context.Context, name string, p *requestParams) (run, required bool, err *JSONRPCError) {
	if s.tasks == nil || EraOf(ctx) != EraModern {
		return false, false, nil
	}
	if p != nil && p.x != nil && p.x.listing == listedSync {
		return false, false, nil
	}
	ts, ok := s.opts.Tools.(TaskSupporter)
	if !ok {
		return false, false, nil
	}
	support := ts.TaskSupport(ctx, name)
	if support != TaskOptional && support != TaskRequired {
		return false, false, nil
	}
	if !clientDeclaresExtension(ClientCapabilitiesFromContext(ctx), TasksExtension) {
		if support == TaskRequired {
			return false, true, missingTasksExtension()
		}
		return false, false, nil
	}
	return true, support == TaskRequired, nil
}

// taskContext is the context a task's work runs in: the creating
// request's values (the caller's identity) without its cancellation or its
// response stream, which end with the CreateTaskResult. There is no stream
// for progress and log notifications (tasks.md: they are not supported on
// tasks): NotifyProgress sets the task's statusMessage instead, and Log
// sends nothing; Elicit and CreateMessage become the task's input requests.
type taskContext struct {
	context.Context
	run *taskRun
}

type taskKey struct{}

// Value hides the creating request and answers taskKey.
func (c *taskContext) Value(key any) any {
	switch key {
	case requestKey{}:
		return (*requestState)(nil)
	case taskKey{}:
		return c.run
	}
	return c.Context.Value(key)
}

func taskFromContext(ctx context.Context) *taskRun {
	r, _ := ctx.Value(taskKey{}).(*taskRun)
	return r
}

// createTaskResult is CreateTaskResult (tasks.md, "Task Creation"): a flat
// Result & Task with resultType "task".
type createTaskResult struct {
	ResultType string `json:"resultType"`
	taskWire
}

// taskWire is the Task shape and the DetailedTask fields of tasks/get
// (tasks.md, "Tasks"): integer milliseconds, ISO 8601 times.
type taskWire struct {
	TaskID         string                     `json:"taskId"`
	Status         TaskStatus                 `json:"status"`
	StatusMessage  string                     `json:"statusMessage,omitempty"`
	CreatedAt      string                     `json:"createdAt"`
	LastUpdatedAt  string                     `json:"lastUpdatedAt"`
	TTLMs          int64                      `json:"ttlMs"`
	PollIntervalMs int64                      `json:"pollIntervalMs,omitempty"`
	Result         json.RawMessage            `json:"result,omitempty"`
	Error          *JSONRPCError              `json:"error,omitempty"`
	InputRequests  map[string]json.RawMessage `json:"inputRequests,omitempty"`
}

func wireOf(t *Task, detailed bool) taskWire {
	w := taskWire{TaskID: t.ID, Status: t.Status, StatusMessage: t.StatusMessage,
		CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339Nano), LastUpdatedAt: t.LastUpdatedAt.UTC().Format(time.RFC3339Nano),
		TTLMs: t.TTL.Milliseconds(), PollIntervalMs: t.PollInterval.Milliseconds()}
	if detailed {
		switch t.Status {
		case TaskCompleted:
			w.Result = t.Result
		case TaskFailed:
			w.Error = t.Error
		case TaskInputRequired:
			w.InputRequests = t.InputRequests
		}
	}
	return w
}

// start creates a task for tools/call name and runs the call in the
// background; it returns the CreateTaskResult, or nil when the owner has no
// room for another task and the call may run synchronously instead.
func (r *taskRunner) start(ctx context.Context, name string, run func(context.Context) (*CallToolResult, error), required bool) (any, error) {
	now := time.Now()
	t := &Task{ID: rand.Text(), Owner: ownerOf(ctx), Tool: name, Status: TaskWorking, CreatedAt: now, LastUpdatedAt: now,
		TTL: r.ttl, PollInterval: r.poll}
	if r.relay != nil {
		// Shared with other processes: they must be able to tell that
		// this one died (lease.go).
		t.LeaseUntil = now.Add(r.s.lease())
		r.s.startLeases()
	}
	if err := r.store.Create(ctx, t, r.max); err != nil {
		if errors.Is(err, ErrTooManyTasks) {
			if !required {
				return nil, nil
			}
			return nil, NewInvalidRequest("invalid request: %d tasks are already live for this user; wait for one to finish or cancel one (tasks/cancel)", r.max)
		}
		return nil, err
	}
	tr := &taskRun{id: t.ID, owner: t.Owner, tool: name, cred: credentialOf(ctx), caps: ClientCapabilitiesFromContext(ctx), r: r, waiters: make(map[string]chan json.RawMessage)}
	// The work ends with the task's TTL at the latest.
	base, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.ttl)
	tr.cancel = cancel
	r.mu.Lock()
	r.runs[t.ID] = tr
	r.mu.Unlock()
	if !r.s.addWorker() {
		cancel()
		r.finish(tr, nil, NewInternalError("the server is shutting down"))
		return &createTaskResult{ResultType: "task", taskWire: wireOf(t, false)}, nil
	}
	go func() {
		defer r.s.wg.Done()
		defer cancel()
		res, err := r.work(&taskContext{Context: base, run: tr}, name, run)
		r.finish(tr, res, err)
	}()
	return &createTaskResult{ResultType: "task", taskWire: wireOf(t, false)}, nil
}

// cancelAll stops every task running in this process (Shutdown).
func (r *taskRunner) cancelAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, run := range r.runs {
		run.cancel()
	}
}

// work runs the tool, turning a panic into the task's failure.
func (r *taskRunner) work(ctx context.Context, name string, run func(context.Context) (*CallToolResult, error)) (res *CallToolResult, rpcErr *JSONRPCError) {
	defer func() {
		if p := recover(); p != nil {
			r.s.logger.Error("mcp: panic in task", "tool", name, "panic", p, "stack", string(debug.Stack()))
			res, rpcErr = nil, NewInternalError("internal error while running tool %s", name)
		}
	}()
	out, err := run(ctx)
	if err != nil {
		var je *JSONRPCError
		if errors.As(err, &je) {
			return nil, je
		}
		return nil, NewInternalError("internal error while running tool %s", name)
	}
	return out, nil
}

// finish records the outcome unless the task already ended (cancelled,
// say): a terminal state never changes (tasks.md, "Task Status").
func (r *taskRunner) finish(run *taskRun, res *CallToolResult, rpcErr *JSONRPCError) {
	r.mu.Lock()
	delete(r.runs, run.id)
	r.mu.Unlock()
	var result json.RawMessage
	if rpcErr == nil {
		b, err := json.Marshal(res)
		if err != nil {
			rpcErr = NewInternalError("tool result could not be encoded")
		}
		result = b
	}
	record := func(rpcErr *JSONRPCError, result json.RawMessage) error {
		_, err := r.store.Update(context.Background(), run.owner, run.id, func(t *Task) {
			if t.Status.Terminal() {
				return
			}
			t.LastUpdatedAt = time.Now()
			t.InputRequests = nil
			if rpcErr != nil {
				t.Status, t.Error = TaskFailed, rpcErr
				return
			}
			t.Status, t.Result = TaskCompleted, result
		})
		return err
	}
	err := record(rpcErr, result)
	if err == nil || errors.Is(err, ErrTaskNotFound) {
		return
	}
	// A shared store may refuse the outcome (a result past its record
	// size limit) or be unreachable: the task must not stay "working" to
	// its pollers for the rest of its TTL, so record a failure that says
	// so, if the store takes that.
	r.s.logger.Warn("mcp: recording a task's outcome", "tool", run.tool, "err", err)
	if err := record(NewInternalError("the task's outcome could not be stored: %v", err), nil); err != nil && !errors.Is(err, ErrTaskNotFound) {
		r.s.logger.Warn("mcp: recording a task's failure", "tool", run.tool, "err", err)
	}
}

// taskParams are the params of tasks/get, tasks/update and tasks/cancel.
type taskParams struct {
	TaskID         string                     `json:"taskId"`
	InputResponses map[string]json.RawMessage `json:"inputResponses"`
}

// taskRequest checks a tasks/* request: the extension is on, the client
// declared it, the params name a task of the caller's.
func (s *Server) taskRequest(ctx context.Context, params json.RawMessage, update bool) (*taskParams, *Task, error) {
	if !clientDeclaresExtension(ClientCapabilitiesFromContext(ctx), TasksExtension) {
		return nil, nil, missingTasksExtension()
	}
	var p taskParams
	if err := DecodeParams(params, &p); err != nil {
		return nil, nil, err
	}
	if p.TaskID == "" {
		return nil, nil, NewInvalidParams("invalid params: taskId is required")
	}
	if update && p.InputResponses == nil {
		return nil, nil, NewInvalidParams("invalid params: inputResponses is required (an object)")
	}
	t, err := s.tasks.store.Get(ctx, ownerOf(ctx), p.TaskID)
	if errors.Is(err, ErrTaskNotFound) {
		return nil, nil, NewInvalidParams("invalid params: unknown task %q (it does not exist, has expired, or is not yours)", truncate(p.TaskID, 64))
	}
	if err != nil {
		return nil, nil, err
	}
	if orphaned(t, time.Now()) && s.tasks.run(t.ID) == nil {
		t = s.tasks.fail(ctx, t)
	}
	return &p, t, nil
}

// orphaned reports whether t is still running by its record while the
// process running it stopped renewing its lease: that process died.
func orphaned(t *Task, now time.Time) bool {
	return !t.Status.Terminal() && !t.LeaseUntil.IsZero() && now.After(t.LeaseUntil)
}

// orphanMessage is the status message of a task whose process died.
const orphanMessage = "the server running this task stopped before it finished; call the tool again"

// fail records that t's process died (tasks.md, "Task Status": failed is
// terminal), unless its record changed meanwhile, and returns the task as
// it now is. When the store cannot take it, the caller is told anyway.
func (r *taskRunner) fail(ctx context.Context, t *Task) *Task {
	mark := func(t *Task, now time.Time) {
		t.Status, t.StatusMessage, t.InputRequests, t.LastUpdatedAt = TaskFailed, orphanMessage, nil, now
		t.Error = NewInternalError("%s", orphanMessage)
	}
	out, err := r.store.Update(ctx, t.Owner, t.ID, func(cur *Task) {
		if now := time.Now(); orphaned(cur, now) {
			mark(cur, now)
		}
	})
	if err == nil {
		return out
	}
	r.s.logger.Warn("mcp: recording that a task's server stopped", "tool", t.Tool, "err", err)
	t = t.clone()
	mark(t, time.Now())
	return t
}

// renew extends the lease of every shared task running here (lease.go).
func (r *taskRunner) renew(ctx context.Context) {
	if r.relay == nil {
		return
	}
	r.mu.Lock()
	runs := make([]*taskRun, 0, len(r.runs))
	for _, run := range r.runs {
		runs = append(runs, run)
	}
	r.mu.Unlock()
	for _, run := range runs {
		if ctx.Err() != nil {
			return
		}
		until := time.Now().Add(r.s.lease())
		_, err := r.store.Update(ctx, run.owner, run.id, func(t *Task) {
			if !t.Status.Terminal() {
				t.LeaseUntil = until
			}
		})
		if err != nil && !errors.Is(err, ErrTaskNotFound) {
			r.s.logger.Warn("mcp: renewing a task's lease", "tool", run.tool, "err", err)
		}
	}
}

// tasksGet answers tasks/get with the DetailedTask (tasks.md, "Task
// Polling").
func (s *Server) tasksGet(ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
	_, t, err := s.taskRequest(ctx, params, false)
	if err != nil {
		return nil, err
	}
	w := wireOf(t, true)
	return &w, nil
}

// tasksUpdate answers tasks/update: responses to outstanding input
// requests go to the work waiting on them; other keys are ignored
// (tasks.md, "Task Update Requests"). The ack is empty.
func (s *Server) tasksUpdate(ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
	p, t, err := s.taskRequest(ctx, params, true)
	if err != nil {
		return nil, err
	}
	if t.Status.Terminal() {
		return emptyResult, nil
	}
	// Only answers to outstanding requests count: keys are never reused,
	// and one not yet shown in tasks/get is not outstanding.
	var answers map[string]json.RawMessage
	for key, resp := range p.InputResponses {
		if _, outstanding := t.InputRequests[key]; outstanding {
			if answers == nil {
				answers = make(map[string]json.RawMessage, len(p.InputResponses))
			}
			answers[key] = resp
		}
	}
	if answers == nil {
		return emptyResult, nil
	}
	if run := s.tasks.run(t.ID); run != nil {
		s.tasks.answer(ctx, run, answers)
		return emptyResult, nil
	}
	// Another process runs it (its store is shared with this one's).
	if err := s.tasks.send(ctx, t.ID, taskMessage{Input: answers}); err != nil {
		return nil, NewInternalError("could not pass the answers to the server running this task: %v", err)
	}
	return emptyResult, nil
}

// run returns the task id running in this process, or nil.
func (r *taskRunner) run(id string) *taskRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[id]
}

// answer hands answers to the work waiting on them, and records them
// answered: the task is working again once none is outstanding.
func (r *taskRunner) answer(ctx context.Context, run *taskRun, answers map[string]json.RawMessage) {
	var answered []string
	for key, resp := range answers {
		run.mu.Lock()
		ch := run.waiters[key]
		delete(run.waiters, key)
		run.mu.Unlock()
		if ch != nil {
			ch <- resp // buffered: the waiter may have gone
			answered = append(answered, key)
		}
	}
	if len(answered) == 0 {
		return
	}
	_, _ = r.store.Update(ctx, run.owner, run.id, func(t *Task) {
		for _, k := range answered {
			delete(t.InputRequests, k)
		}
		if t.Status == TaskInputRequired && len(t.InputRequests) == 0 {
			t.Status, t.InputRequests = TaskWorking, nil
		}
		t.LastUpdatedAt = time.Now()
	})
}

// taskMessage is what one process tells the process running a task
// (TaskOptions.Relay): stop it, or here are answers to its input requests.
type taskMessage struct {
	Cancel bool                       `json:"cancel,omitempty"`
	Input  map[string]json.RawMessage `json:"input,omitempty"`
}

// send relays m to the process running task id; with no Relay there is
// none other than this one, and nothing to do.
func (r *taskRunner) send(ctx context.Context, id string, m taskMessage) error {
	if r.relay == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, dirTimeout)
	defer cancel()
	return r.relay.Send(ctx, id, b)
}

// DeliverTaskMessage hands what another process relayed (TaskOptions.Relay)
// to task taskID when it runs here; anything else is dropped. The sender
// has checked the caller owns the task.
func (s *Server) DeliverTaskMessage(taskID string, msg []byte) {
	if s.tasks == nil {
		return
	}
	run := s.tasks.run(taskID)
	if run == nil {
		return
	}
	var m taskMessage
	if json.Unmarshal(msg, &m) != nil {
		return
	}
	if m.Cancel {
		run.cancel()
		return
	}
	if len(m.Input) > 0 {
		// Beside the caller: an events subscriber must stay quick, and
		// answer writes to the store.
		go s.tasks.answer(context.Background(), run, m.Input)
	}
}

// tasksCancel answers tasks/cancel: the work is stopped and the task, if it
// had not ended, is cancelled. A terminal task is acknowledged the same
// way and left as it is (tasks.md, "Task Cancellation").
func (s *Server) tasksCancel(ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
	_, t, err := s.taskRequest(ctx, params, false)
	if err != nil {
		return nil, err
	}
	_, _ = s.tasks.store.Update(ctx, t.Owner, t.ID, func(t *Task) {
		if !t.Status.Terminal() {
			t.Status, t.StatusMessage, t.InputRequests = TaskCancelled, "cancelled by the client", nil
			t.LastUpdatedAt = time.Now()
		}
	})
	if run := s.tasks.run(t.ID); run != nil {
		run.cancel()
		return emptyResult, nil
	}
	// Another process may run it: the stored status already says
	// cancelled, and the work is stopped there.
	if err := s.tasks.send(ctx, t.ID, taskMessage{Cancel: true}); err != nil {
		s.logger.Warn("mcp: relaying tasks/cancel to the process running the task", "err", err)
	}
	return emptyResult, nil
}

// status records a progress message of the work as the task's
// statusMessage, which tasks.md ("Tasks") offers for progress descriptions
// while the task is working; the task has no stream to carry
// notifications/progress.
func (run *taskRun) status(message string) {
	if message == "" {
		return
	}
	_, _ = run.r.store.Update(context.Background(), run.owner, run.id, func(t *Task) {
		if !t.Status.Terminal() {
			t.StatusMessage, t.LastUpdatedAt = truncate(message, 256), time.Now()
		}
	})
}

// ClientCapabilities is the creating request's: what the task may ask for.
func (run *taskRun) ClientCapabilities() json.RawMessage { return run.caps }

// Request makes a server-to-client request an input request of the task
// (tasks.md, "Task Update Requests"): the task shows it in tasks/get as
// input_required until tasks/update answers it. Keys are never reused.
func (run *taskRun) Request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	req, _ := json.Marshal(struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}{method, p})
	ch := make(chan json.RawMessage, 1)
	run.mu.Lock()
	run.next++
	key := fmt.Sprintf("input-%d", run.next)
	run.waiters[key] = ch
	run.mu.Unlock()
	_, err = run.r.store.Update(ctx, run.owner, run.id, func(t *Task) {
		if t.Status.Terminal() {
			return
		}
		if t.InputRequests == nil {
			t.InputRequests = make(map[string]json.RawMessage)
		}
		t.InputRequests[key] = req
		t.Status, t.LastUpdatedAt = TaskInputRequired, time.Now()
	})
	if err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		run.mu.Lock()
		delete(run.waiters, key)
		run.mu.Unlock()
		return nil, ctx.Err()
	}
}
