// Command rollout runs typed echo and maze episodes with the Go client
// (clients/go, package envclient) over one bidirectional gRPC Step stream per
// session, against `openenv serve` or against `openenv gateway` in front of an
// OpenEnv Python server. It checks what it gets and exits 1 if anything is off.
//
//	openenv serve echo --port 8000 &   rollout -addr 127.0.0.1:8000 -env echo
//	openenv serve maze --port 8000 &   rollout -addr 127.0.0.1:8000 -env maze
//	openenv gateway http://127.0.0.1:8001 --port 9000 &   # an OpenEnv echo_env on 8001
//	rollout -addr 127.0.0.1:9000 -env echo -upstream
//	rollout -addr 127.0.0.1:8000 -bench 5000             # echo steps/s, one JSON line
//
// With -upstream the messages are those `openenv proto` writes for OpenEnv's
// echo_env and maze_env (examples/go/upstream-proto), generated into
// openenvconnect/gen/openenv/upstream/*.
//
// Build offline in GOPATH mode with Debian's Go packages:
//
//	GOPATH=$PWD/clients/go:/usr/share/gocode GO111MODULE=off go build -o rollout ./examples/go/rollout
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"openenvconnect/envclient"
	echov1 "openenvconnect/gen/openenv/envs/echo/v1"
	mazev1 "openenvconnect/gen/openenv/envs/maze/v1"
	upechov1 "openenvconnect/gen/openenv/upstream/echo/v1"
	upmazev1 "openenvconnect/gen/openenv/upstream/maze/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server or gateway address (host:port)")
	env := flag.String("env", "echo", "echo or maze")
	upstream := flag.Bool("upstream", false, "the server is `openenv gateway` in front of OpenEnv's Python echo_env or maze_env")
	episodes := flag.Int("episodes", 2, "episodes to run")
	bench := flag.Int("bench", 0, "instead of episodes, time this many sequential echo steps on one session")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	switch {
	case *bench > 0 && *upstream:
		err = benchmark[*upechov1.EchoAction, *upechov1.EchoObservation, *upechov1.State](ctx, *addr, *bench, func(m string) *upechov1.EchoAction {
			return &upechov1.EchoAction{Message: m}
		})
	case *bench > 0:
		err = benchmark[*echov1.EchoAction, *echov1.EchoObservation, *echov1.EchoState](ctx, *addr, *bench, func(m string) *echov1.EchoAction {
			return &echov1.EchoAction{Message: m}
		})
	case *env == "echo" && !*upstream:
		err = echoEpisodes(ctx, *addr, *episodes)
	case *env == "maze" && !*upstream:
		err = mazeEpisodes(ctx, *addr, *episodes)
	case *env == "echo":
		err = upstreamEchoEpisodes(ctx, *addr, *episodes)
	case *env == "maze":
		err = upstreamMazeEpisodes(ctx, *addr, *episodes)
	default:
		err = fmt.Errorf("unknown -env %q: echo or maze", *env)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rollout: %v\n", err)
		os.Exit(1)
	}
}

func report(v map[string]interface{}) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}

// echoEpisodes drives `openenv serve echo` with the bundled echo messages.
func echoEpisodes(ctx context.Context, addr string, episodes int) error {
	env, err := envclient.Dial[*echov1.EchoAction, *echov1.EchoObservation, *echov1.EchoState](ctx, addr)
	if err != nil {
		return err
	}
	defer env.Close()
	for ep := 1; ep <= episodes; ep++ {
		first, err := env.Reset(ctx, envclient.WithSeed(uint64(ep)), envclient.WithEpisodeID(fmt.Sprintf("go-echo-%d", ep)))
		if err != nil {
			return err
		}
		total, chars := 0.0, 0
		for i := 1; i <= 5; i++ {
			msg := fmt.Sprintf("hello %d from Go", i)
			res, err := env.Step(ctx, &echov1.EchoAction{Message: msg})
			if err != nil {
				return err
			}
			if res.Observation.EchoedMessage != msg || int(res.Observation.MessageLength) != len(msg) || res.StepCount != uint32(i) {
				return fmt.Errorf("step %d: got %q (%d chars, step %d)", i, res.Observation.EchoedMessage, res.Observation.MessageLength, res.StepCount)
			}
			total += res.Reward
			chars += len(msg)
		}
		state, err := env.State(ctx)
		if err != nil {
			return err
		}
		if state.StepCount != 5 || state.TotalCharacters != uint64(chars) || state.EpisodeId != first.EpisodeID {
			return fmt.Errorf("state %v does not match the episode", state)
		}
		report(map[string]interface{}{"env": "echo", "target": "serve", "episode": ep, "episode_id": first.EpisodeID, "steps": 5, "reward": total, "session": env.SessionID()})
	}
	return nil
}

// mazeEpisodes drives `openenv serve maze` with a random policy over the legal moves.
func mazeEpisodes(ctx context.Context, addr string, episodes int) error {
	env, err := envclient.Dial[*mazev1.MazeAction, *mazev1.MazeObservation, *mazev1.MazeState](ctx, addr)
	if err != nil {
		return err
	}
	defer env.Close()
	// A typed error: the rules of MazeAction (direction required) are checked by the server.
	if _, err := env.Reset(ctx); err != nil {
		return err
	}
	_, err = env.Step(ctx, &mazev1.MazeAction{})
	if violations, ok := envclient.Violations(err); status.Code(err) != codes.InvalidArgument || !ok || len(violations) == 0 {
		return fmt.Errorf("an unset direction should be INVALID_ARGUMENT with violations, got %v", err)
	}
	rng := rand.New(rand.NewSource(7))
	for ep := 1; ep <= episodes; ep++ {
		res, err := env.Reset(ctx, envclient.WithSeed(uint64(ep)))
		if err != nil {
			return err
		}
		total, steps := 0.0, 0
		for !res.Done {
			legal := res.Observation.LegalDirections
			res, err = env.Step(ctx, &mazev1.MazeAction{Direction: legal[rng.Intn(len(legal))]})
			if err != nil {
				return err
			}
			total += res.Reward
			steps++
		}
		state, err := env.State(ctx)
		if err != nil {
			return err
		}
		if state.StepCount != uint32(steps) || state.Position.GetRow() != res.Observation.Position.GetRow() || state.Position.GetCol() != res.Observation.Position.GetCol() {
			return fmt.Errorf("state %v does not match the last observation", state)
		}
		report(map[string]interface{}{"env": "maze", "target": "serve", "episode": ep, "steps": steps, "reward": total,
			"solved": state.Solved, "terminated": res.Terminated, "truncated": res.Truncated})
	}
	return nil
}

// upstreamEchoEpisodes drives OpenEnv's Python echo_env through `openenv gateway`.
func upstreamEchoEpisodes(ctx context.Context, addr string, episodes int) error {
	env, err := envclient.Dial[*upechov1.EchoAction, *upechov1.EchoObservation, *upechov1.State](ctx, addr)
	if err != nil {
		return err
	}
	defer env.Close()
	for ep := 1; ep <= episodes; ep++ {
		id := fmt.Sprintf("go-upstream-echo-%d", ep)
		if _, err := env.Reset(ctx, envclient.WithEpisodeID(id)); err != nil {
			return err
		}
		total := 0.0
		for i := 1; i <= 5; i++ {
			msg := fmt.Sprintf("hi %d", i)
			res, err := env.Step(ctx, &upechov1.EchoAction{Message: msg})
			if err != nil {
				return err
			}
			if res.Observation.EchoedMessage != msg || res.Observation.MessageLength != int64(len(msg)) {
				return fmt.Errorf("step %d: got %v", i, res.Observation)
			}
			total += res.Reward
		}
		state, err := env.State(ctx)
		if err != nil {
			return err
		}
		if state.GetEpisodeId() != id || state.StepCount != 5 {
			return fmt.Errorf("the Python server's state %v does not match the episode", state)
		}
		report(map[string]interface{}{"env": "echo", "target": "gateway", "upstream_env": env.Info().GetMetadata().GetName(),
			"episode": ep, "steps": 5, "reward": total})
	}
	return nil
}

// upstreamMazeEpisodes drives OpenEnv's Python maze_env through `openenv gateway`.
func upstreamMazeEpisodes(ctx context.Context, addr string, episodes int) error {
	env, err := envclient.Dial[*upmazev1.MazeAction, *upmazev1.MazeObservation, *upmazev1.State](ctx, addr)
	if err != nil {
		return err
	}
	defer env.Close()
	rng := rand.New(rand.NewSource(11))
	for ep := 1; ep <= episodes; ep++ {
		res, err := env.Reset(ctx)
		if err != nil {
			return err
		}
		total, steps := 0.0, 0
		for !res.Done && steps < 500 {
			legal := res.Observation.LegalActions
			res, err = env.Step(ctx, &upmazev1.MazeAction{Action: legal[rng.Intn(len(legal))]})
			if err != nil {
				return err
			}
			total += res.Reward
			steps++
		}
		if !res.Done {
			return fmt.Errorf("the episode did not end in %d steps", steps)
		}
		report(map[string]interface{}{"env": "maze", "target": "gateway", "upstream_env": env.Info().GetMetadata().GetName(),
			"episode": ep, "steps": steps, "reward": total, "position": res.Observation.CurrentPosition})
	}
	return nil
}

// benchmark times sequential echo steps on one session and prints steps/s with p50/p99.
func benchmark[A, O, S envclient.Message](ctx context.Context, addr string, n int, action func(string) A) error {
	env, err := envclient.Dial[A, O, S](ctx, addr)
	if err != nil {
		return err
	}
	defer env.Close()
	if _, err := env.Reset(ctx); err != nil {
		return err
	}
	warmup := n/10 + 1
	for i := 0; i < warmup; i++ {
		if _, err := env.Step(ctx, action("warm-up")); err != nil {
			return err
		}
	}
	latencies := make([]time.Duration, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t := time.Now()
		if _, err := env.Step(ctx, action("bench")); err != nil {
			return err
		}
		latencies[i] = time.Since(t)
	}
	elapsed := time.Since(start)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	// The server's count: every step applied exactly once, even across dropped connections.
	state, err := env.State(ctx)
	if err != nil {
		return err
	}
	fields := state.ProtoReflect().Descriptor().Fields()
	applied := state.ProtoReflect().Get(fields.ByName("step_count")).Interface()
	report(map[string]interface{}{
		"client": "go", "steps": n, "warmup": warmup, "seconds": elapsed.Seconds(), "steps_per_s": float64(n) / elapsed.Seconds(),
		"p50_us": latencies[n/2].Microseconds(), "p99_us": latencies[n*99/100].Microseconds(),
		"server_step_count": applied, "reconnects": env.Reconnects(),
	})
	return nil
}
