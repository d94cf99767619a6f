package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Environment variables the CLI reads the API token from. There is no flag:
// a flag's value shows in ps and shell history.
const (
	EnvToken     = "EXPORTD_TOKEN"
	EnvTokenFile = "EXPORTD_TOKEN_FILE"
)

// TokenFromEnv returns the API token from $EXPORTD_TOKEN, or from the file
// named by $EXPORTD_TOKEN_FILE (surrounding whitespace trimmed), or "" when
// neither is set. Setting both is an error, so it is never a guess which
// one was used.
func TokenFromEnv() (string, error) {
	tok, file := os.Getenv(EnvToken), os.Getenv(EnvTokenFile)
	switch {
	case tok != "" && file != "":
		return "", fmt.Errorf("both %s and %s are set; set one", EnvToken, EnvTokenFile)
	case tok != "":
		tok = strings.TrimSpace(tok)
		if tok == "" || !validToken(tok) {
			return "", fmt.Errorf("%s: contains whitespace or control characters", EnvToken)
		}
		return tok, nil
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", EnvTokenFile, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 64<<10))
		if err != nil {
			return "", fmt.Errorf("%s: read %s: %w", EnvTokenFile, file, err)
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("%s: %s is empty", EnvTokenFile, file)
		}
		if !validToken(tok) {
			return "", fmt.Errorf("%s: %s: the token contains whitespace or control characters", EnvTokenFile, file)
		}
		return tok, nil
	}
	return "", nil
}

// Client calls a running daemon's API (exportd run --server, pause, ...).
type Client struct {
	// BaseURL is the daemon's address, like http://127.0.0.1:8080.
	BaseURL string
	// Token is sent as a bearer token when not empty.
	Token string
	// HTTP is the client to use; nil is http.DefaultClient. Bound calls
	// with their context: RunNow with Wait answers when the export ends.
	HTTP *http.Client
}

// APIError is an error answer of the API. It unwraps to the matching
// sentinel (ErrUnknownSchedule, ErrBadRequest, ErrRunning, ErrUnauthorized,
// ErrForbidden, ErrInternal, ErrUnavailable) so callers use errors.Is.
type APIError struct {
	StatusCode int
	// Code is the answer's machine-readable code (unknown_schedule, ...).
	Code    string
	Message string
	// RequestID finds the full error in the daemon's log.
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("exportd api: %s (HTTP %d)", e.Message, e.StatusCode)
	if e.RequestID != "" && e.StatusCode >= 500 {
		s += ", request id " + e.RequestID
	}
	return s
}

// Unwrap returns the sentinel error of the answer, or nil.
func (e *APIError) Unwrap() error {
	switch e.Code {
	case codeUnknownSchedule:
		return ErrUnknownSchedule
	case codeBadRequest, codeTooLarge:
		return ErrBadRequest
	case codeRunning:
		return ErrRunning
	}
	// By status, for answers that are not ours (a proxy in between).
	switch e.StatusCode {
	case http.StatusBadRequest:
		return ErrBadRequest
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusConflict:
		return ErrRunning
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return ErrUnavailable
	}
	if e.StatusCode >= 500 {
		return ErrInternal
	}
	return nil
}

// Schedules lists every schedule with its state.
func (c *Client) Schedules(ctx context.Context) ([]ScheduleStatus, error) {
	var out struct {
		Schedules []ScheduleStatus `json:"schedules"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/schedules", nil, nil, &out)
	return out.Schedules, err
}

// Schedule returns one schedule's state.
func (c *Client) Schedule(ctx context.Context, name string) (ScheduleStatus, error) {
	var out ScheduleStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/schedules/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// RunNow asks for a run of schedule name (req.Schedule, if set, must be the
// same). For an archived window it returns the outcome, with its key and
// manifest, and an error wrapping ErrAlreadyArchived.
func (c *Client) RunNow(ctx context.Context, name string, req RunRequest) (RunOutcome, error) {
	if req.Schedule != "" && req.Schedule != name {
		return RunOutcome{}, fmt.Errorf("%w: run request for schedule %q sent to %q", ErrBadRequest, req.Schedule, name)
	}
	var body runBody
	if req.WindowStart != nil {
		s := req.WindowStart.UTC().Format(time.RFC3339Nano)
		body.WindowStart = &s
	}
	body.Adhoc = req.Adhoc
	q := url.Values{}
	if req.Wait {
		q.Set("wait", "true")
	}
	var out RunOutcome
	if err := c.do(ctx, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(name)+"/run", q, body, &out); err != nil {
		return out, err
	}
	if out.Status == domain.OutcomeAlreadyArchived {
		return out, fmt.Errorf("schedule %q: %w: %s", name, ErrAlreadyArchived, out.Key)
	}
	return out, nil
}

// Runs returns the run history, newest first, of one schedule or of all
// when schedule is ""; limit 0 is the server's default (50).
func (c *Client) Runs(ctx context.Context, schedule string, limit int) ([]RunRecord, error) {
	q := url.Values{}
	if schedule != "" {
		q.Set("schedule", schedule)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Runs []RunRecord `json:"runs"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/runs", q, nil, &out)
	return out.Runs, err
}

// Pause pauses a schedule and returns its new state.
func (c *Client) Pause(ctx context.Context, name string) (ScheduleStatus, error) {
	var out ScheduleStatus
	err := c.do(ctx, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(name)+"/pause", nil, nil, &out)
	return out, err
}

// Resume resumes a schedule and returns its new state.
func (c *Client) Resume(ctx context.Context, name string) (ScheduleStatus, error) {
	var out ScheduleStatus
	err := c.do(ctx, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(name)+"/resume", nil, nil, &out)
	return out, err
}

// Ready returns nil when the daemon is ready, else an error wrapping
// ErrUnavailable.
func (c *Client) Ready(ctx context.Context) error {
	var out map[string]string
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil, &out)
}

// maxAnswerBytes bounds what the client reads (1,000 runs are well under).
const maxAnswerBytes = 64 << 20

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
		base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return fmt.Errorf("exportd api: server URL %q: want http://host:port or https://host:port", c.BaseURL)
	}
	// path is escaped already (schedule names go through PathEscape).
	u := base.String() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}

	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("exportd api: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("exportd api: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("exportd api: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("exportd api: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		e := &APIError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
		var eb errorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			e.Code, e.Message = eb.Code, eb.Error
			if eb.RequestID != "" {
				e.RequestID = eb.RequestID
			}
		} else if e.Message = strings.TrimSpace(string(b)); e.Message == "" || len(e.Message) > 200 {
			e.Message = http.StatusText(resp.StatusCode)
		}
		if resp.StatusCode == http.StatusServiceUnavailable && path == "/readyz" {
			e.Message = "not ready"
			var rb map[string]string
			if json.Unmarshal(b, &rb) == nil && rb["reason"] != "" {
				e.Message = "not ready: " + rb["reason"]
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	// Not strict: a newer daemon may add fields.
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("exportd api: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

var _ error = (*APIError)(nil)
