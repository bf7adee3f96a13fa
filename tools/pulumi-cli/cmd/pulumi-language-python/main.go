// Command pulumi-language-python is a minimal Python language host for the
// Pulumi engine: it serves the LanguageRuntime gRPC service and runs a
// program with Pulumi's own `pulumi-language-python-exec` shim, which the
// setup script copies next to this binary from the sdk/v3 module.
//
// It exists because Pulumi publishes no Go module for its Python language
// host; it implements what `preview`, `up`, `refresh`, `destroy`, `install`
// and `about` need: no plugin discovery, no templates. `pulumi install`
// installs requirements.txt into the project's `virtualenv` when it names one.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is stamped at build time with the Pulumi version it was built against.
var version = "v3.0.0"

// bailExitCode is what the exec shim returns after it has already shown the
// user an actionable error; the engine must then not print another one.
const bailExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execShim      string

	mu      sync.Mutex
	running map[*exec.Cmd]struct{} // programs started by Run, each in its own process group
}

// stopPrograms ends every running program. The engine calls Cancel, then kills
// this host, when an update fails: a program left waiting on the engine would
// keep the CLI's output pipes open, and the CLI waits seconds for them to close.
func (h *host) stopPrograms() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cmd := range h.running {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.stopPrograms()
	return &emptypb.Empty{}, nil
}

// pythonVersion is `python --version` of the interpreter, e.g. "3.11.7".
func pythonVersion(py string) (string, error) {
	out, err := exec.Command(py, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", py, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "Python "), nil
}

func (h *host) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py := python(req.GetInfo())
	version, err := pythonVersion(py)
	if err != nil {
		return nil, err
	}
	executable := py
	if found, err := exec.LookPath(py); err == nil {
		executable = found
	}
	return &pulumirpc.AboutResponse{Executable: executable, Version: version}, nil
}

func (h *host) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	out, err := exec.Command(python(req.GetInfo()), "-m", "pip", "list", "--format=json",
		"--disable-pip-version-check").Output()
	if err != nil {
		return nil, fmt.Errorf("pip list: %w", err)
	}
	var listed []struct{ Name, Version string }
	if err := json.Unmarshal(out, &listed); err != nil {
		return nil, fmt.Errorf("pip list: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(listed))
	for _, d := range listed {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// streamWriter forwards a command's output to `pulumi install` as it comes.
type streamWriter struct {
	send   func([]byte) error
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	if err := w.send(bytes.Clone(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, stream pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	info := req.GetInfo()
	say := func(stderr bool) streamWriter {
		return streamWriter{stderr: stderr, send: func(p []byte) error {
			if stderr {
				return stream.Send(&pulumirpc.InstallDependenciesResponse{Stderr: p})
			}
			return stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: p})
		}}
	}
	root := info.GetProgramDirectory()
	if root == "" {
		root = info.GetRootDirectory()
	}
	if root == "" {
		root = req.GetDirectory()
	}
	venv := ""
	if info != nil && info.GetOptions() != nil {
		venv, _ = info.GetOptions().AsMap()["virtualenv"].(string)
	}
	requirements := filepath.Join(root, "requirements.txt")
	if _, err := os.Stat(requirements); err != nil {
		_, _ = fmt.Fprintln(say(false), "no requirements.txt: nothing to install")
		return nil
	}
	if venv == "" {
		// Without a virtualenv the program runs on PULUMI_PYTHON_CMD or python3 as they are:
		// installing into that interpreter is the user's call, not the engine's.
		_, _ = fmt.Fprintf(say(false), "no `virtualenv` runtime option: the program uses %s as it is; "+
			"install %s into it yourself\n", python(info), requirements)
		return nil
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.GetRootDirectory(), venv)
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = say(false), say(true)
		return cmd.Run()
	}
	if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err != nil {
		base := os.Getenv("PULUMI_PYTHON_CMD")
		if base == "" {
			base = "python3"
		}
		if err := run(base, "-m", "venv", venv); err != nil {
			return fmt.Errorf("creating the virtualenv %s: %w", venv, err)
		}
	}
	if err := run(filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "-r", requirements); err != nil {
		return fmt.Errorf("pip install -r %s: %w", requirements, err)
	}
	return nil
}

func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// python picks the interpreter: PULUMI_PYTHON_CMD, then the project's
// `virtualenv` runtime option, then python3 from PATH.
func python(info *pulumirpc.ProgramInfo) string {
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return cmd
	}
	if info != nil && info.GetOptions() != nil {
		if venv, ok := info.GetOptions().AsMap()["virtualenv"].(string); ok && venv != "" {
			if !filepath.IsAbs(venv) {
				venv = filepath.Join(info.GetRootDirectory(), venv)
			}
			return filepath.Join(venv, "bin", "python")
		}
	}
	return "python3"
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	args := []string{"-u", h.execShim}
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", fmt.Sprint(req.GetDryRun()))
	add("parallel", fmt.Sprint(req.GetParallel()))
	add("organization", req.GetOrganization())
	if req.GetInfo() != nil {
		add("root_directory", req.GetInfo().GetRootDirectory())
	}
	program := req.GetProgram()
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.GetConfigSecretKeys()...))
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, python(req.GetInfo()), args...)
	// Through pipes this host copies, never the CLI's own: when the engine kills this host
	// without a Cancel, the CLI's pipes close with it instead of staying open in the program.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	cmd.Env = append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
	)
	// Its own process group, so that stopping it also stops what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}, nil
	}
	h.mu.Lock()
	h.running[cmd] = struct{}{}
	h.mu.Unlock()
	err = cmd.Wait()
	h.mu.Lock()
	delete(h.running, cmd)
	h.mu.Unlock()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func main() {
	flag.String("tracing", "", "ignored: tracing endpoint")
	flag.String("root", "", "ignored: project root")
	flag.Parse()

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h := &host{execShim: self + "-exec", running: map[*exec.Cmd]struct{}{}}
	// The engine stops plugins with a signal: take the programs down too.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		h.stopPrograms()
		os.Exit(0)
	}()
	// The engine passes its own address as the last positional argument.
	if args := flag.Args(); len(args) > 0 {
		h.engineAddress = args[len(args)-1]
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start the language host: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
		os.Exit(1)
	}
}
