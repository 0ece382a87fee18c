package user

import (
	"context"
	"errors"
	"fmt"
	"net/mail"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// ParseTier turns a tier's name into a Tier, refusing unknown ones.
func ParseTier(s string) (Tier, error) {
	switch t := Tier(s); t {
	case Free, Premium:
		return t, nil
	}
	return "", fmt.Errorf("unknown tier %q: want %q or %q", s, Free, Premium)
}

// SetTier moves a user to tier and returns the tier it had. The write is one
// conditional update: an archiver that checks the tier in the same
// transaction as it marks a session archived (see sessionstore) sees either
// the old tier or the new one, never a mix.
func (s *Store) SetTier(ctx context.Context, name string, tier Tier) (Tier, error) {
	if _, err := ParseTier(string(tier)); err != nil {
		return "", err
	}
	out, err := s.update(ctx, name, "SET Tier = :t", map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: string(tier)}}, types.ReturnValueUpdatedOld)
	if err != nil {
		return "", err
	}
	old := Free // a user stored without a tier is free
	if v, ok := out.Attributes["Tier"].(*types.AttributeValueMemberS); ok {
		old = Tier(v.Value)
	}
	return old, nil
}

// SetEmail registers the address notifications go to; "" removes it.
func (s *Store) SetEmail(ctx context.Context, name, email string) error {
	if email == "" {
		_, err := s.update(ctx, name, "REMOVE Email", nil, types.ReturnValueNone)
		return err
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email {
		return fmt.Errorf("invalid e-mail address %q: want a bare address such as name@example.org", email)
	}
	_, err = s.update(ctx, name, "SET Email = :e", map[string]types.AttributeValue{":e": &types.AttributeValueMemberS{Value: email}}, types.ReturnValueNone)
	return err
}

// SetOptOut stops (true) or resumes (false) a user's notifications.
func (s *Store) SetOptOut(ctx context.Context, name string, optOut bool) error {
	_, err := s.update(ctx, name, "SET OptOut = :o", map[string]types.AttributeValue{":o": &types.AttributeValueMemberBOOL{Value: optOut}}, types.ReturnValueNone)
	return err
}

// Table is the name of the users table (for transactions that check a
// user's tier, see TierCondition).
func (s *Store) Table() string { return s.table }

// TierCondition is a transaction item that holds only while user name is on
// tier: the archiver's mark of a session as archived carries it, so an
// upgrade that lands first cancels the mark.
func (s *Store) TierCondition(name string, tier Tier) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{resource.UsersKey: &types.AttributeValueMemberS{Value: name}},
		ConditionExpression:       aws.String("Tier = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: string(tier)}},
	}}
}

func (s *Store) update(ctx context.Context, name, expr string, values map[string]types.AttributeValue, rv types.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	if err := objectkey.User(name); err != nil {
		return nil, ErrUnknownUser
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       map[string]types.AttributeValue{resource.UsersKey: &types.AttributeValueMemberS{Value: name}},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(" + resource.UsersKey + ")"),
		ExpressionAttributeValues: values,
		ReturnValues:              rv,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, ErrUnknownUser
	}
	if err != nil {
		return nil, fmt.Errorf("update user %s: %w", name, err)
	}
	return out, nil
}
