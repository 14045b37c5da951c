package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned (wrapped) by Decode for a body longer than its
// limit.
var ErrTooLarge = errors.New("body too large")

// Decode reads one JSON value from r into v, strictly: at most limit
// bytes, no unknown fields, nothing but white space after the value. A
// garbage or oversized body gives an error that says what is wrong and
// never echoes the body.
func Decode(r io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return DecodeBytes(data, v)
}

// DecodeBytes is Decode for a body already read.
func DecodeBytes(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describe(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON: data after the value")
	}
	return nil
}

// describe turns a decoding error into a message without the input's
// bytes beyond a field name.
func describe(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("invalid JSON: empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: truncated")
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("invalid JSON: field %q wants %v", te.Field, te.Type)
	}
	// "json: unknown field \"x\"" and base64 errors name no secret.
	return fmt.Errorf("invalid JSON: %v", err)
}

// DecodeNewJob decodes and validates the body of POST /v1/jobs.
func DecodeNewJob(r io.Reader) (*NewJob, error) {
	var n NewJob
	if err := Decode(r, MaxBody, &n); err != nil {
		return nil, err
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return &n, nil
}

// DecodeBegin decodes and validates the body of POST /v1/jobs/{id}/begin.
func DecodeBegin(r io.Reader) (*Begin, error) {
	var b Begin
	if err := Decode(r, MaxBody, &b); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

// DecodeAttach decodes and validates the body of POST
// /v1/sessions/{id}/attach; an empty body is an Attach with zero fields.
func DecodeAttach(r io.Reader) (*Attach, error) {
	var a Attach
	data, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if len(data) > MaxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxBody)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := DecodeBytes(data, &a); err != nil {
			return nil, err
		}
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodeAck decodes the body of POST /v1/sessions/{id}/ack.
func DecodeAck(r io.Reader) (*Ack, error) {
	var a Ack
	if err := Decode(r, 4<<10, &a); err != nil {
		return nil, err
	}
	if a.Through < 0 {
		return nil, fmt.Errorf("through %d is negative", a.Through)
	}
	return &a, nil
}

// DecodeEvent decodes and checks one event, as a client reads it from
// the attach stream.
func DecodeEvent(data []byte) (*Event, error) {
	var e Event
	if len(data) > MaxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxBody)
	}
	if err := DecodeBytes(data, &e); err != nil {
		return nil, err
	}
	if e.Seq <= 0 {
		return nil, fmt.Errorf("event sequence number %d is not positive", e.Seq)
	}
	if !e.Kind.Valid() {
		return nil, fmt.Errorf("event kind %q is unknown", e.Kind)
	}
	return &e, nil
}
