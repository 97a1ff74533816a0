package core

import (
	"errors"
	"fmt"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/platform/keychain"
)

// osSecrets adapts the OS keychain (platform/keychain) to the engine's
// account.Secrets, translating its errors.
type osSecrets struct{ k *keychain.Keychain }

// OSSecrets returns the profiles' secret store over the OS keychain.
func OSSecrets() account.Secrets { return osSecrets{keychain.New()} }

func (s osSecrets) Set(id string, kind account.SecretKind, v string) error {
	return secretErr(s.k.Set(id, keychain.Kind(kind), v))
}

func (s osSecrets) Get(id string, kind account.SecretKind) (string, error) {
	v, err := s.k.Get(id, keychain.Kind(kind))
	return v, secretErr(err)
}

func (s osSecrets) Delete(id string, kind account.SecretKind) error {
	return secretErr(s.k.Delete(id, keychain.Kind(kind)))
}

func secretErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keychain.ErrNotFound):
		return fmt.Errorf("%w (%w)", account.ErrNoSecret, err)
	case errors.Is(err, keychain.ErrUnavailable):
		return fmt.Errorf("%w: %w", account.ErrNoKeychain, err)
	}
	return err
}
