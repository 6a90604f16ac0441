// Package envclient is a typed Go client of an openenv-connect environment
// server (or of `openenv gateway` in front of an OpenEnv Python server): one
// session over one bidirectional gRPC Step stream, every request with its own
// request_id, replies matched by id, the session resumed on a new stream when
// the connection breaks (the server answers a retried request id from its
// record, so no step is applied twice).
//
//	env, err := envclient.Dial[*echov1.EchoAction, *echov1.EchoObservation, *echov1.EchoState](ctx, "127.0.0.1:8000")
//	first, err := env.Reset(ctx, envclient.WithSeed(42))
//	res, err := env.Step(ctx, &echov1.EchoAction{Message: "hi"})
//	fmt.Println(res.Observation.EchoedMessage, res.Reward, res.Done)
//	defer env.Close()
package envclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	openenvv1 "openenvconnect/gen/openenv/v1"
)

// Message is a generated protobuf message (a pointer type such as *echov1.EchoAction).
type Message = proto.Message

// Result is what a step or reset produced, with the environment's typed observation.
type Result[O proto.Message] struct {
	Observation O
	// Reward of the step; HasReward is false when the environment gave none.
	Reward    float64
	HasReward bool
	// Done is Terminated || Truncated (Gymnasium semantics).
	Done       bool
	Terminated bool
	Truncated  bool
	// Metadata is the step's free-form metadata (a google.protobuf.Struct as a map).
	Metadata map[string]interface{}
	// RewardComponents are the named scores of the environment's rubric.
	RewardComponents map[string]float64
	StepCount        uint32
	EpisodeID        string
}

// Options of Dial and New.
type Options struct {
	// Retries of a request whose stream broke (UNAVAILABLE and the like). Default 5.
	Retries int
	// First backoff between retries, doubled each time. Default 50 ms.
	Backoff time.Duration
	// Skip the Describe check of the A, O and S message types.
	NoVerify bool
	// Called with each partial observation a long step sends before its result.
	OnPartial func(requestID string, partial *openenvv1.PartialObservation)
}

// Option changes Options.
type Option func(*Options)

// WithRetries sets how often a request is retried on a new stream after the stream broke.
func WithRetries(n int) Option { return func(o *Options) { o.Retries = n } }

// WithoutVerify skips checking the message types against Describe.
func WithoutVerify() Option { return func(o *Options) { o.NoVerify = true } }

// WithPartials receives the partial observations of long steps.
func WithPartials(f func(requestID string, partial *openenvv1.PartialObservation)) Option {
	return func(o *Options) { o.OnPartial = f }
}

// ResetOption sets a parameter of Reset.
type ResetOption func(*openenvv1.ResetRequest)

// WithSeed seeds the environment's random generator.
func WithSeed(seed uint64) ResetOption { return func(r *openenvv1.ResetRequest) { r.Seed = &seed } }

// WithEpisodeID sets the episode id (the server makes one otherwise).
func WithEpisodeID(id string) ResetOption {
	return func(r *openenvv1.ResetRequest) { r.EpisodeId = &id }
}

type pending struct {
	seq   uint64
	req   *openenvv1.StepRequest
	reply chan *openenvv1.StepResponse
	fail  chan error
}

// Client is one environment session. A, O and S are the environment's generated
// Action, Observation and State messages. Methods are safe to call from several
// goroutines; requests then travel pipelined on the one stream.
type Client[A, O, S proto.Message] struct {
	conn    *grpc.ClientConn
	owned   bool
	rpc     openenvv1.EnvironmentServiceClient
	info    *openenvv1.DescribeResponse
	options Options

	ctx    context.Context
	cancel context.CancelFunc
	prefix string

	mu        sync.Mutex
	stream    openenvv1.EnvironmentService_StepClient
	attached  bool // the current stream has told the server its session
	sessionID string
	seq       uint64
	inflight  map[string]*pending
	attempts  int
	// reconnects counts streams opened again after a break.
	reconnects int
	closed     bool
	recvDone   chan struct{}
}

// codec marshals with google.golang.org/protobuf: Debian's grpc-go 1.33 would use
// golang/protobuf 1.3, which cannot handle the oneofs of protoc-gen-go 1.28 messages.
type codec struct{}

func (codec) Marshal(v interface{}) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("envclient: cannot marshal %T", v)
	}
	return proto.Marshal(m)
}

func (codec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("envclient: cannot unmarshal into %T", v)
	}
	return proto.Unmarshal(data, m)
}

func (codec) Name() string { return "proto" }

// DialOptions are the options a connection passed to New needs: cleartext HTTP/2
// (grpc-go 1.33, Debian's, predates credentials/insecure) and a protobuf codec
// for the generated messages.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInsecure(), grpc.WithDefaultCallOptions(grpc.ForceCodec(codec{}))}
}

// Dial connects to target ("host:port") over cleartext HTTP/2 and checks with
// Describe that the server serves the environment of A, O and S.
func Dial[A, O, S proto.Message](ctx context.Context, target string, opts ...Option) (*Client[A, O, S], error) {
	conn, err := grpc.DialContext(ctx, target, append(DialOptions(), grpc.WithBlock())...)
	if err != nil {
		return nil, &Error{Code: codes.Unavailable, Message: fmt.Sprintf("cannot reach %s: %v", target, err)}
	}
	c, err := New[A, O, S](ctx, conn, opts...)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.owned = true
	return c, nil
}

// New makes a client on an existing connection (which Close leaves open).
func New[A, O, S proto.Message](ctx context.Context, conn *grpc.ClientConn, opts ...Option) (*Client[A, O, S], error) {
	options := Options{Retries: 5, Backoff: 50 * time.Millisecond}
	for _, o := range opts {
		o(&options)
	}
	rpc := openenvv1.NewEnvironmentServiceClient(conn)
	info, err := rpc.Describe(ctx, &openenvv1.DescribeRequest{})
	if err != nil {
		return nil, callError(err)
	}
	if !options.NoVerify {
		for _, check := range []struct{ want, got string }{
			{fullName[A](), info.GetActionType()},
			{fullName[O](), info.GetObservationType()},
			{fullName[S](), info.GetStateType()},
		} {
			if check.want != check.got {
				return nil, &Error{Code: codes.FailedPrecondition, Message: fmt.Sprintf(
					"the server serves %s (%s, %s, %s); this client was built for %s",
					info.GetMetadata().GetName(), info.GetActionType(), info.GetObservationType(), info.GetStateType(), check.want)}
			}
		}
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	cctx, cancel := context.WithCancel(context.Background())
	return &Client[A, O, S]{
		conn: conn, rpc: rpc, info: info, options: options,
		ctx: cctx, cancel: cancel, prefix: "go." + hex.EncodeToString(id[:]) + ".",
		inflight: map[string]*pending{},
	}, nil
}

// Info is the server's Describe answer.
func (c *Client[A, O, S]) Info() *openenvv1.DescribeResponse { return c.info }

// SessionID is the session the client drives ("" before the first reset).
func (c *Client[A, O, S]) SessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// Reconnects is how often a broken stream was replaced (the session resumed on a new one).
func (c *Client[A, O, S]) Reconnects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconnects
}

// Reset starts a new episode (opening the session on the first call).
func (c *Client[A, O, S]) Reset(ctx context.Context, opts ...ResetOption) (*Result[O], error) {
	reset := &openenvv1.ResetRequest{}
	for _, o := range opts {
		o(reset)
	}
	r, err := c.call(ctx, &openenvv1.StepRequest{Command: &openenvv1.StepRequest_Reset_{Reset_: reset}})
	if err != nil {
		return nil, err
	}
	return c.result(r)
}

// Step applies an action.
func (c *Client[A, O, S]) Step(ctx context.Context, action A) (*Result[O], error) {
	packed, err := anypb.New(action)
	if err != nil {
		return nil, &Error{Code: codes.InvalidArgument, Message: fmt.Sprintf("cannot pack the action: %v", err)}
	}
	req := &openenvv1.StepRequest{Command: &openenvv1.StepRequest_Action{Action: packed}}
	if deadline, ok := ctx.Deadline(); ok {
		req.Timeout = durationpb.New(time.Until(deadline))
	}
	r, err := c.call(ctx, req)
	if err != nil {
		return nil, err
	}
	return c.result(r)
}

// State reads the session's typed state.
func (c *Client[A, O, S]) State(ctx context.Context) (S, error) {
	var zero S
	r, err := c.call(ctx, &openenvv1.StepRequest{Command: &openenvv1.StepRequest_State{State: &openenvv1.StateRequest{}}})
	if err != nil {
		return zero, err
	}
	sr, ok := r.Kind.(*openenvv1.StepResponse_State)
	if !ok {
		return zero, &Error{Code: codes.Internal, Message: fmt.Sprintf("the server answered a state request with %T", r.Kind)}
	}
	state := newMessage[S]()
	if err := sr.State.GetState().UnmarshalTo(state); err != nil {
		return zero, &Error{Code: codes.Internal, Message: fmt.Sprintf("cannot read the state as %s: %v", fullName[S](), err)}
	}
	return state, nil
}

// Close half-closes the stream (the server then ends the session), waits for
// the server to end it, and closes the connection if Dial opened it.
func (c *Client[A, O, S]) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	stream, done := c.stream, c.recvDone
	c.mu.Unlock()
	if stream != nil {
		_ = stream.CloseSend()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	c.cancel()
	if c.owned {
		return c.conn.Close()
	}
	return nil
}

// call sends one request with a fresh request id and waits for its reply.
func (c *Client[A, O, S]) call(ctx context.Context, req *openenvv1.StepRequest) (*openenvv1.StepResponse, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, &Error{Code: codes.FailedPrecondition, Message: "the client is closed"}
	}
	c.seq++
	req.RequestId = c.prefix + strconv.FormatUint(c.seq, 10)
	p := &pending{seq: c.seq, req: req, reply: make(chan *openenvv1.StepResponse, 1), fail: make(chan error, 1)}
	c.inflight[req.RequestId] = p
	err := c.sendLocked(p)
	c.mu.Unlock()
	if err != nil {
		c.forget(req.RequestId)
		return nil, callError(err)
	}
	select {
	case r := <-p.reply:
		if e, ok := r.Kind.(*openenvv1.StepResponse_Error); ok {
			return nil, stepError(e.Error)
		}
		return r, nil
	case err := <-p.fail:
		return nil, callError(err)
	case <-ctx.Done():
		c.forget(req.RequestId)
		code := codes.Canceled
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			code = codes.DeadlineExceeded
		}
		return nil, &Error{Code: code, Message: ctx.Err().Error()}
	}
}

func (c *Client[A, O, S]) forget(id string) {
	c.mu.Lock()
	delete(c.inflight, id)
	c.mu.Unlock()
}

// sendLocked sends on the current stream, opening one (attached to the session) if there is none.
func (c *Client[A, O, S]) sendLocked(p *pending) error {
	if c.stream == nil {
		stream, err := c.rpc.Step(c.ctx)
		if err != nil {
			return err
		}
		c.stream, c.attached, c.recvDone = stream, false, make(chan struct{})
		go c.receive(stream, c.recvDone)
	}
	if !c.attached && c.sessionID != "" {
		// The first message of a new stream names the session it resumes.
		p.req.SessionId = c.sessionID
	}
	c.attached = c.attached || c.sessionID != ""
	// A failed send shows up as a broken stream on the receiving side, which resends.
	_ = c.stream.Send(p.req)
	return nil
}

// receive reads one stream's replies and hands each to the request with its id.
func (c *Client[A, O, S]) receive(stream openenvv1.EnvironmentService_StepClient, done chan struct{}) {
	defer close(done)
	for {
		r, err := stream.Recv()
		if err != nil {
			c.broken(stream, err)
			return
		}
		c.mu.Lock()
		if r.SessionId != "" {
			c.sessionID = r.SessionId
			c.attached = true
		}
		if partial, ok := r.Kind.(*openenvv1.StepResponse_Partial); ok {
			c.mu.Unlock()
			if c.options.OnPartial != nil {
				c.options.OnPartial(r.RequestId, partial.Partial)
			}
			continue
		}
		p := c.inflight[r.RequestId]
		delete(c.inflight, r.RequestId)
		c.attempts = 0
		c.mu.Unlock()
		if p != nil {
			p.reply <- r
		}
	}
}

var retryable = map[codes.Code]bool{codes.Unavailable: true, codes.Unknown: true, codes.Internal: true, codes.Canceled: true}

// broken handles the end of a stream: resend what is in flight on a new stream, or fail it.
func (c *Client[A, O, S]) broken(stream openenvv1.EnvironmentService_StepClient, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream == stream {
		c.stream = nil
	}
	if errors.Is(err, io.EOF) {
		err = &Error{Code: codes.Unavailable, Message: "the server ended the step stream"}
	}
	waiting := make([]*pending, 0, len(c.inflight))
	for _, p := range c.inflight {
		waiting = append(waiting, p)
	}
	sort.Slice(waiting, func(i, j int) bool { return waiting[i].seq < waiting[j].seq })
	if len(waiting) == 0 {
		return
	}
	code := status.Code(err)
	if c.closed || !retryable[code] || c.attempts >= c.options.Retries || c.ctx.Err() != nil {
		for _, p := range waiting {
			delete(c.inflight, p.req.RequestId)
			p.fail <- err
		}
		return
	}
	c.attempts++
	c.reconnects++
	delay := c.options.Backoff << (c.attempts - 1)
	go func() {
		time.Sleep(delay)
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range waiting {
			if c.inflight[p.req.RequestId] != p {
				continue
			}
			// Same request id: the server answers it from its record if it was applied already.
			if err := c.sendLocked(p); err != nil {
				delete(c.inflight, p.req.RequestId)
				p.fail <- err
			}
		}
	}()
}

func (c *Client[A, O, S]) result(r *openenvv1.StepResponse) (*Result[O], error) {
	res, ok := r.Kind.(*openenvv1.StepResponse_Result)
	if !ok {
		return nil, &Error{Code: codes.Internal, Message: fmt.Sprintf("expected a step result, got %T", r.Kind)}
	}
	sr := res.Result
	obs := newMessage[O]()
	if err := sr.GetObservation().UnmarshalTo(obs); err != nil {
		return nil, &Error{Code: codes.Internal, Message: fmt.Sprintf("cannot read the observation as %s: %v", fullName[O](), err)}
	}
	out := &Result[O]{
		Observation:      obs,
		HasReward:        sr.Reward != nil,
		Reward:           sr.GetReward(),
		Done:             sr.GetDone(),
		Terminated:       sr.GetTerminated(),
		Truncated:        sr.GetTruncated(),
		Metadata:         sr.GetMetadata().AsMap(),
		RewardComponents: sr.GetRewardComponents(),
		StepCount:        sr.GetStepCount(),
		EpisodeID:        sr.GetEpisodeId(),
	}
	return out, nil
}

// newMessage makes an empty message of a generated type (T is a pointer type such as *echov1.EchoAction).
func newMessage[T proto.Message]() T {
	var zero T
	return zero.ProtoReflect().Type().New().Interface().(T)
}

func fullName[T proto.Message]() string {
	var zero T
	return string(zero.ProtoReflect().Descriptor().FullName())
}

// String describes the client for logs.
func (c *Client[A, O, S]) String() string {
	return fmt.Sprintf("envclient(%s, session %s)", c.info.GetMetadata().GetName(), c.SessionID())
}
