//go:build stub

package crdt

import "errors"

var errStub = errors.New("stub")

func MergeUpdatesV2(u [][]byte) ([]byte, error)    { return nil, errStub }
func MergeUpdates(u [][]byte) ([]byte, error)      { return nil, errStub }
func DiffUpdateV2(u, sv []byte) ([]byte, error)    { return nil, errStub }
func ConvertUpdateV2ToV1(u []byte) ([]byte, error) { return nil, errStub }
