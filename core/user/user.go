// Package user keeps the API's users in TurbineUsers: a bcrypt hash of each
// password (never the password), a tier and a disabled flag.
package user

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// Tier of a user's plan.
type Tier string

// The tiers.
const (
	Free    Tier = "free"
	Premium Tier = "premium"
)

// DefaultCost is the bcrypt work factor for new hashes.
const DefaultCost = 11

// MinPasswordLength is the shortest password accepted for a new user.
const MinPasswordLength = 12

// User is one API user as stored.
type User struct {
	Name         string `dynamodbav:"Username"`
	PasswordHash string `dynamodbav:"PasswordHash"`
	Tier         Tier   `dynamodbav:"Tier"`
	Disabled     bool   `dynamodbav:"Disabled"`
	Created      string `dynamodbav:"Created"`
	Email        string `dynamodbav:"Email,omitempty"`  // where notifications go; none without it
	OptOut       bool   `dynamodbav:"OptOut,omitempty"` // no notifications even with an Email
}

// Errors of Authenticate and the store. The authorizer tells the client
// nothing more than "denied" for all three, but logs which.
var (
	ErrUnknownUser   = errors.New("unknown user")
	ErrWrongPassword = errors.New("wrong password")
	ErrDisabled      = errors.New("user disabled")
	ErrExists        = errors.New("user exists")
	ErrWeakPassword  = fmt.Errorf("password shorter than %d characters", MinPasswordLength)
)

// Store reads and writes TurbineUsers.
type Store struct {
	db    *dynamodb.Client
	table string
	Cost  int
}

// NewStore returns a Store on table.
func NewStore(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, Cost: DefaultCost}
}

// Create adds a user; it fails with ErrExists rather than overwrite one.
func (s *Store) Create(ctx context.Context, name, password string, tier Tier) (User, error) {
	if err := objectkey.User(name); err != nil {
		return User{}, err
	}
	if len(password) < MinPasswordLength {
		return User{}, ErrWeakPassword
	}
	if tier == "" {
		tier = Free
	}
	if tier != Free && tier != Premium {
		return User{}, fmt.Errorf("unknown tier %q", tier)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.Cost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	u := User{Name: name, PasswordHash: string(hash), Tier: tier, Created: time.Now().UTC().Format(time.RFC3339)}
	av, err := attributevalue.MarshalMap(u)
	if err != nil {
		return User{}, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: av, ConditionExpression: aws.String("attribute_not_exists(" + resource.UsersKey + ")"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// The SDK retries a request whose answer was lost; when the first
		// attempt did land, the retry finds this very item: its hash, salted
		// afresh by this call, is no other call's.
		if h, ok := ccf.Item["PasswordHash"].(*types.AttributeValueMemberS); ok && h.Value == u.PasswordHash {
			return u, nil
		}
		return User{}, fmt.Errorf("%s: %w", name, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", name, err)
	}
	return u, nil
}

// Get reads one user.
func (s *Store) Get(ctx context.Context, name string) (User, error) {
	if err := objectkey.User(name); err != nil {
		return User{}, ErrUnknownUser
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: map[string]types.AttributeValue{resource.UsersKey: &types.AttributeValueMemberS{Value: name}},
	})
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", name, err)
	}
	if out.Item == nil {
		return User{}, ErrUnknownUser
	}
	var u User
	if err := attributevalue.UnmarshalMap(out.Item, &u); err != nil {
		return User{}, err
	}
	return u, nil
}

// Authenticate checks name and password: nil, or ErrUnknownUser,
// ErrWrongPassword, ErrDisabled, or an error reaching the table. Every
// refusal costs one bcrypt comparison at the store's cost, an unknown name
// included (against a fixed dummy hash), so the time taken tells an
// attacker nothing about which names exist.
func (s *Store) Authenticate(ctx context.Context, name, password string) (User, error) {
	u, err := s.Get(ctx, name)
	if errors.Is(err, ErrUnknownUser) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(s.Cost), []byte(password))
		return User{}, err
	}
	if err != nil {
		return User{}, err
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)); err != nil {
		return User{}, ErrWrongPassword
	}
	if u.Disabled {
		return User{}, ErrDisabled
	}
	return u, nil
}

// dummyHashes holds one hash per bcrypt cost of a password no one has, made
// once: comparing against it costs what comparing against a user's does.
var dummyHashes sync.Map // int -> []byte

func dummyHash(cost int) []byte {
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	// A cost bcrypt refuses leaves no hash: Create refuses it too, so no user exists to hide.
	h, _ := bcrypt.GenerateFromPassword([]byte("no user has this password"), cost)
	v, _ := dummyHashes.LoadOrStore(cost, h)
	return v.([]byte)
}

// SetDisabled disables or enables a user.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       map[string]types.AttributeValue{resource.UsersKey: &types.AttributeValueMemberS{Value: name}},
		UpdateExpression:          aws.String("SET Disabled = :d"),
		ConditionExpression:       aws.String("attribute_exists(" + resource.UsersKey + ")"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberBOOL{Value: disabled}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrUnknownUser
	}
	return err
}

// Delete removes a user.
func (s *Store) Delete(ctx context.Context, name string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           &s.table,
		Key:                 map[string]types.AttributeValue{resource.UsersKey: &types.AttributeValueMemberS{Value: name}},
		ConditionExpression: aws.String("attribute_exists(" + resource.UsersKey + ")"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrUnknownUser
	}
	return err
}

// List yields every user, page by page.
func (s *Store) List(ctx context.Context) iter.Seq2[User, error] {
	return func(yield func(User, error) bool) {
		p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.table})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(User{}, fmt.Errorf("list users: %w", err))
				return
			}
			for _, av := range page.Items {
				var u User
				err := attributevalue.UnmarshalMap(av, &u)
				if !yield(u, err) || err != nil {
					return
				}
			}
		}
	}
}
