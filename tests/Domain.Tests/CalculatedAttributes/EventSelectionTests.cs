using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using static EventProfiles.Domain.CalculatedAttributes.ConditionOperators;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

public class EventSelectionTests
{
    private const string ThreeProducts = """
        [ { "id": "p1", "name": "Sneaker", "category": "shoes", "price": 100, "quantity": 1, "custom_attributes": { "color": "red" } },
          { "id": "p2", "name": "Sock", "category": "apparel", "price": "5.5", "quantity": 4, "custom_attributes": { "color": "white" } },
          { "id": "p3", "name": "Boot", "category": "Shoes", "price": 80, "quantity": 2 } ]
        """;

    private static DataPoint CustomEvent(string name, string? customEventType = null) =>
        new() { Type = DataPointTypes.Event, EventType = EventTypes.CustomEvent, EventName = name, CustomEventType = customEventType };

    private static DataPoint Purchases(string? action = "purchase") =>
        new() { Type = DataPointTypes.Event, EventType = EventTypes.CommerceEvent, CustomEventType = action };

    // ---- which events ----

    [Theory]
    [InlineData("Play Video", true)]
    [InlineData("play video", true)]
    [InlineData("PLAY VIDEO", true)]
    [InlineData("Play Video 2", false)]
    [InlineData("Pause", false)]
    public void a_custom_event_is_selected_by_name_ignoring_case(string eventName, bool selected)
    {
        EventSelection.Selects(CustomEvent("Play Video"), Custom(eventName, T0)).ShouldBe(selected);
    }

    [Theory]
    [InlineData("navigation", true)]
    [InlineData("Navigation", true)]
    [InlineData("other", false)]
    public void a_custom_event_type_narrows_the_selection(string customEventType, bool selected)
    {
        EventSelection.Selects(CustomEvent("Play", "navigation"), Custom("Play", T0, customEventType: customEventType)).ShouldBe(selected);
        EventSelection.Selects(CustomEvent("Play"), Custom("Play", T0, customEventType: customEventType)).ShouldBeTrue();
    }

    [Fact]
    public void the_event_type_must_match()
    {
        var screenView = new DataPoint { Type = DataPointTypes.Event, EventType = EventTypes.ScreenView, EventName = "Home" };
        EventSelection.Selects(screenView, ScreenView("home", T0)).ShouldBeTrue();
        EventSelection.Selects(screenView, ScreenView("Settings", T0)).ShouldBeFalse();
        EventSelection.Selects(screenView, Custom("Home", T0)).ShouldBeFalse();
        EventSelection.Selects(CustomEvent("Home"), ScreenView("Home", T0)).ShouldBeFalse();
        EventSelection.Selects(Purchases(), Custom("purchase", T0, customEventType: "purchase")).ShouldBeFalse();
    }

    [Theory]
    [InlineData("purchase", "purchase", true)]
    [InlineData("purchase", "PURCHASE", true)]
    [InlineData("purchase", "add_to_cart", false)]
    [InlineData("add_to_cart", "add_to_cart", true)]
    [InlineData(null, "add_to_cart", true)]
    [InlineData(null, "refund", true)]
    public void a_commerce_event_is_selected_by_its_product_action(string? selected, string action, bool expected)
    {
        EventSelection.Selects(Purchases(selected), Commerce(T0, ThreeProducts, action)).ShouldBe(expected);
    }

    [Fact]
    public void a_promotion_action_selects_too()
    {
        var promotion = new EventCaptured(Guid.NewGuid(), Workspace, EventTypes.CommerceEvent, T0, null, null,
            Json("""{ "promotion_action": { "action": "click", "promotions": [ { "id": "promo-1" } ] } }"""));

        EventSelection.Selects(Purchases("click"), promotion).ShouldBeTrue();
        EventSelection.Selects(Purchases("purchase"), promotion).ShouldBeFalse();
    }

    [Fact]
    public void copied_events_never_count()
    {
        var copied = Custom("Play", T0, """{ "v": 5 }""", copiedFrom: 99);
        EventSelection.Selects(CustomEvent("Play"), copied).ShouldBeFalse();
        EventSelection.Selects(Purchases(), Commerce(T0, ThreeProducts, copiedFrom: 99)).ShouldBeFalse();

        Text(OnPlay(CalculationTypes.Count, null), copied, Custom("Play", T0)).ShouldBe("1");
        Text(OnPlay(CalculationTypes.Sum), copied, Play(T0, "1")).ShouldBe("1");
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price"), Commerce(T0, ThreeProducts, copiedFrom: 99)).ShouldBeNull();
    }

    // ---- what each event contributes ----

    [Fact]
    public void product_attributes_are_read_per_product_in_array_order()
    {
        var definition = Activate(OnPurchasedProducts(CalculationTypes.Sum, "price", useQuantity: true));
        var observed = definition.Observe(Commerce(T0, ThreeProducts)).ToList();

        observed.Select(o => o.Value!.Value.ToString()).ShouldBe(["100", "5.5", "80"]);
        observed.Select(o => o.Quantity).ShouldBe([1m, 4m, 2m]);
        observed.ShouldAllBe(o => o.At == T0);
    }

    [Fact]
    public void first_and_last_value_pick_the_first_and_last_product()
    {
        var purchase = Commerce(T0, ThreeProducts);
        Text(OnPurchasedProducts(CalculationTypes.FirstValue, "name"), purchase).ShouldBe("Sneaker");
        Text(OnPurchasedProducts(CalculationTypes.LastValue, "name"), purchase).ShouldBe("Boot");

        var later = Commerce(T0.AddMinutes(1), """[ { "name": "Hat" }, { "name": "Scarf" } ]""");
        Text(OnPurchasedProducts(CalculationTypes.FirstValue, "name"), later, purchase).ShouldBe("Sneaker");
        Text(OnPurchasedProducts(CalculationTypes.LastValue, "name"), later, purchase).ShouldBe("Scarf");
    }

    [Fact]
    public void product_values_feed_every_calculation()
    {
        var purchase = Commerce(T0, ThreeProducts);
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price"), purchase).ShouldBe("185.5");
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price", useQuantity: true), purchase).ShouldBe("282"); // 100 + 22 + 160
        Text(OnPurchasedProducts(CalculationTypes.Min, "price"), purchase).ShouldBe("5.5");
        Text(OnPurchasedProducts(CalculationTypes.UniqueValuesCount, "category"), purchase).ShouldBe("3"); // shoes, apparel, Shoes
        List(OnPurchasedProducts(CalculationTypes.UniqueList, "color"), purchase).ShouldBe(["red", "white"]);
    }

    [Fact]
    public void a_count_counts_the_purchase_once_however_many_products_it_has()
    {
        Text(OnPurchasedProducts(CalculationTypes.Count, null), Commerce(T0, ThreeProducts), Commerce(T0, """[ { "id": "x" } ]""")).ShouldBe("2");
    }

    [Fact]
    public void conditions_are_checked_against_the_same_product()
    {
        var shoes = When(StringType, EqualTo, "category", "SHOES");
        var purchase = Commerce(T0, ThreeProducts);

        Text(OnPurchasedProducts(CalculationTypes.Sum, "price", false, null, shoes), purchase).ShouldBe("180");
        List(OnPurchasedProducts(CalculationTypes.UniqueList, "name", false, null, shoes), purchase).ShouldBe(["Boot", "Sneaker"]);
        Text(OnPurchasedProducts(CalculationTypes.Count, null, false, null, When(NumberType, GreaterThan, "quantity", "3")), purchase).ShouldBe("1");
        Text(OnPurchasedProducts(CalculationTypes.Count, null, false, null, When(NumberType, GreaterThan, "quantity", "4")), purchase).ShouldBeNull();
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price", false, null, When(StringType, Exists, "color")), purchase).ShouldBe("105.5");
    }

    [Fact]
    public void a_product_condition_may_read_the_event_when_the_product_lacks_the_attribute()
    {
        var purchase = Commerce(T0, ThreeProducts, attributes: """{ "channel": "web" }""");
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price", false, null, When(StringType, EqualTo, "channel", "Web")), purchase).ShouldBe("185.5");
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price", false, null, When(StringType, EqualTo, "currency_code", "eur")), purchase).ShouldBe("185.5");
    }

    [Fact]
    public void an_event_lacking_the_attribute_contributes_nothing()
    {
        var definition = Activate(OnPlay(CalculationTypes.Sum));
        definition.Observe(Custom("Play", T0, """{ "w": 1 }""")).ShouldBeEmpty();
        definition.Observe(Custom("Play", T0, """{ "v": null }""")).ShouldBeEmpty();
        definition.Observe(Custom("Play", T0, """{ "v": 2 }""")).Count().ShouldBe(1);
    }

    [Fact]
    public void an_event_attribute_is_looked_up_in_custom_attributes_then_the_action_then_the_event()
    {
        var purchase = Commerce(T0, ThreeProducts, attributes: """{ "total_amount": 1 }""");
        var onEvent = OnPurchasedProducts(CalculationTypes.Sum, "total_amount");
        var eventCategory = onEvent with { DataPoint = onEvent.DataPoint! with { AttributeCategory = null } };

        Text(eventCategory, purchase).ShouldBe("1");                                      // custom_attributes first
        Text(eventCategory, Commerce(T0, ThreeProducts)).ShouldBe("99.5");                 // then product_action
        Text(eventCategory with { DataPoint = eventCategory.DataPoint! with { AttributeName = "currency_code" }, CalculationType = CalculationTypes.LastValue },
            Commerce(T0, ThreeProducts)).ShouldBe("EUR");                                  // then the event's own fields
    }

    [Fact]
    public void a_product_attribute_is_looked_up_on_the_product_then_its_custom_attributes()
    {
        var item = Json("""{ "id": "p1", "price": 3, "custom_attributes": { "size": "L", "price": 9 } }""");
        var data = Json("""{ "custom_attributes": { "size": "M", "store": "north" } }""");

        EventSelection.Lookup(data, item, "price")!.Value.GetInt32().ShouldBe(3);
        EventSelection.Lookup(data, item, "size")!.Value.GetString().ShouldBe("L");
        EventSelection.Lookup(data, item, "store")!.Value.GetString().ShouldBe("north");
        EventSelection.Lookup(data, item, "missing").ShouldBeNull();
        EventSelection.Lookup(data, null, "size")!.Value.GetString().ShouldBe("M");
        EventSelection.Lookup(data, item, null).ShouldBeNull();
    }

    [Fact]
    public void a_commerce_event_without_the_selected_action_contributes_nothing()
    {
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price"), Commerce(T0, ThreeProducts, "add_to_cart")).ShouldBeNull();
        Text(OnPurchasedProducts(CalculationTypes.Sum, "price"), Commerce(T0, ThreeProducts, "add_to_cart"), Commerce(T0, """[ { "price": 2 } ]""")).ShouldBe("2");
    }
}
