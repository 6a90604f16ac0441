package envclient

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	openenvv1 "openenvconnect/gen/openenv/v1"
)

// Error is a failed request: the gRPC code, the server's message and its typed
// details (CapacityInfo, ValidationErrors). Requests answered in-band on the Step
// stream and failed calls both return it; status.Code(err) works on it too.
type Error struct {
	Code    codes.Code
	Message string
	Details []*anypb.Any
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// GRPCStatus lets status.Code and status.FromError read the error.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// stepError is the in-band error of a Step reply.
func stepError(e *openenvv1.StepError) error {
	return &Error{Code: codes.Code(e.GetCode()), Message: e.GetMessage(), Details: e.GetDetails()}
}

// callError turns a failed call's status (details from grpc-status-details-bin included) into an *Error.
func callError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	s, ok := status.FromError(err)
	if !ok {
		return &Error{Code: codes.Unknown, Message: err.Error()}
	}
	out := &Error{Code: s.Code(), Message: s.Message()}
	// Debian's grpc-go carries details as golang/protobuf 1.3 Anys: copy type URL and bytes.
	for _, d := range s.Proto().GetDetails() {
		out.Details = append(out.Details, &anypb.Any{TypeUrl: d.GetTypeUrl(), Value: d.GetValue()})
	}
	return out
}

// Capacity is the CapacityInfo of a RESOURCE_EXHAUSTED error (the server, or an
// OpenEnv server behind `openenv gateway`, runs its maximum number of sessions).
func Capacity(err error) (*openenvv1.CapacityInfo, bool) {
	info := &openenvv1.CapacityInfo{}
	return info, detail(err, info)
}

// Violations are the field violations of an INVALID_ARGUMENT error.
func Violations(err error) ([]*openenvv1.FieldViolation, bool) {
	v := &openenvv1.ValidationErrors{}
	ok := detail(err, v)
	return v.GetViolations(), ok
}

func detail(err error, into proto.Message) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, d := range e.Details {
		if d.MessageIs(into) {
			return d.UnmarshalTo(into) == nil
		}
	}
	return false
}
