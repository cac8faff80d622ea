package wire

import (
	"errors"
	"fmt"
)

// ErrUnknownOp means a record carries an op or txn type this package
// cannot decode (a multi sub-op, a multi result or a txn type).
var ErrUnknownOp = errors.New("wire: unknown op type")

// MultiOp is one operation of a multi (14) or multiRead (22) request.
// Req is *CreateRequest for create, create2 and createContainer,
// *CreateTTLRequest for createTTL, *DeleteRequest, *SetDataRequest,
// *CheckVersionRequest, *GetDataRequest or *GetChildrenRequest.
type MultiOp struct {
	Type OpCode
	Req  Record
}

// MultiRequest is MultiOperationRecord (wire.md §8.1): MultiHeader + op
// record pairs terminated by a header with Done set. Whether the ops suit
// multi or multiRead is for the caller to check.
type MultiRequest struct {
	Ops []MultiOp
}

// multiTerminator ends both multi requests and multi responses.
var multiTerminator = MultiHeader{Type: OpError, Done: true, Err: ErrSystemError}

// newMultiOpRequest returns the zero request record for a multi sub-op.
func newMultiOpRequest(t OpCode) Record {
	switch t {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete:
		return &DeleteRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpCheck:
		return &CheckVersionRequest{}
	case OpGetData:
		return &GetDataRequest{}
	case OpGetChildren:
		return &GetChildrenRequest{}
	}
	return nil
}

// Encode writes each op as MultiHeader{Type, false, -1} + its record, then
// the terminator {-1, true, -1}. A nil Req is written as the zero record
// of its type, so the frame stays decodable.
func (r *MultiRequest) Encode(e *Encoder) {
	for i := range r.Ops {
		op := &r.Ops[i]
		h := MultiHeader{Type: op.Type, Done: false, Err: ErrSystemError}
		h.Encode(e)
		req := op.Req
		if req == nil {
			req = newMultiOpRequest(op.Type)
		}
		if req != nil {
			req.Encode(e)
		}
	}
	multiTerminator.Encode(e)
}

// Decode reads ops until a header with Done set; an op type outside the
// allowed set is an error wrapping ErrUnknownOp.
func (r *MultiRequest) Decode(d *Decoder) {
	r.Ops = nil
	var h MultiHeader
	for {
		h.Decode(d)
		if d.Err != nil || h.Done {
			return
		}
		req := newMultiOpRequest(h.Type)
		if req == nil {
			d.Err = fmt.Errorf("%w: multi op %d", ErrUnknownOp, int32(h.Type))
			return
		}
		req.Decode(d)
		if d.Err != nil {
			return
		}
		r.Ops = append(r.Ops, MultiOp{Type: h.Type, Req: req})
	}
}

// MultiResult is one result of a multi response. Type is the result type
// (wire.md §8.2): OpError for failures, whose Err is the code (0 for ops
// before the failing one, -2 after it); otherwise the sub-op type with
// Err normally 0. Body is *CreateResponse (create), *Create2Response
// (create2, also for container/TTL creates), *SetDataResponse (setData),
// *GetDataResponse (getData), *GetChildrenResponse (getChildren), and nil
// for delete, check and error results.
type MultiResult struct {
	Type OpCode
	Err  Code
	Body Record
}

// MultiResponse is the body of a multi or multiRead reply.
type MultiResponse struct {
	Results []MultiResult
}

// newMultiResultBody returns the zero body record for a result type; ok is
// false for a type that cannot appear in a multi response.
func newMultiResultBody(t OpCode) (body Record, ok bool) {
	switch t {
	case OpCreate:
		return &CreateResponse{}, true
	case OpCreate2:
		return &Create2Response{}, true
	case OpSetData:
		return &SetDataResponse{}, true
	case OpGetData:
		return &GetDataResponse{}, true
	case OpGetChildren:
		return &GetChildrenResponse{}, true
	case OpDelete, OpCheck:
		return nil, true
	case OpError:
		return &ErrorResponse{}, true
	}
	return nil, false
}

// Encode writes MultiHeader{Type, false, Err} + body per result, then the
// terminator. Error results get ErrorResponse{Err} as body; results with
// no body (delete, check) ignore Body; a missing body is written as the
// zero record of the result type.
func (r *MultiResponse) Encode(e *Encoder) {
	for i := range r.Results {
		res := &r.Results[i]
		h := MultiHeader{Type: res.Type, Done: false, Err: res.Err}
		h.Encode(e)
		switch res.Type {
		case OpError:
			er := ErrorResponse{Err: res.Err}
			er.Encode(e)
		case OpDelete, OpCheck:
		default:
			body := res.Body
			if body == nil {
				body, _ = newMultiResultBody(res.Type)
			}
			if body != nil {
				body.Encode(e)
			}
		}
	}
	multiTerminator.Encode(e)
}

// Decode reads results until a header with Done set. As in Java's
// MultiResponse, an error result's code is taken from its ErrorResponse
// body; its Body is left nil.
func (r *MultiResponse) Decode(d *Decoder) {
	r.Results = nil
	var h MultiHeader
	for {
		h.Decode(d)
		if d.Err != nil || h.Done {
			return
		}
		body, ok := newMultiResultBody(h.Type)
		if !ok {
			d.Err = fmt.Errorf("%w: multi result %d", ErrUnknownOp, int32(h.Type))
			return
		}
		res := MultiResult{Type: h.Type, Err: h.Err}
		if body != nil {
			body.Decode(d)
			if d.Err != nil {
				return
			}
			if er, isErr := body.(*ErrorResponse); isErr {
				res.Err = er.Err
			} else {
				res.Body = body
			}
		}
		r.Results = append(r.Results, res)
	}
}
